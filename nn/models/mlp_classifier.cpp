#include "nn/models/mlp_classifier.h"

#include "nn/activation.h"
#include "nn/basic.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/registry.h"

namespace tessera::nn {

void visit_options(MLPClassifierOptions& o, OptionVisitor& v) {
  v.require("in_features");
  v("in_features", o.in_features, "input features (the input is flattened)");
  v("hidden", o.hidden, "units of each hidden layer");
  v.require("num_classes");
  v("num_classes", o.num_classes, "classifier outputs");
  v("dropout", o.dropout, "dropout after each hidden activation (0: none)");
  v.choice("activation", o.activation, {"relu", "gelu", "tanh", "silu"}, "hidden activation");
}

void validate_options(const MLPClassifierOptions& o) {
  if (o.in_features < 1) throw OptionError("in_features", "an integer >= 1");
  if (o.num_classes < 1) throw OptionError("num_classes", "an integer >= 1");
  for (int64_t h : o.hidden)
    if (h < 1) throw OptionError("hidden", "layer widths >= 1");
  if (o.dropout < 0 || o.dropout >= 1) throw OptionError("dropout", "a probability in [0, 1)");
}

std::shared_ptr<Sequential> mlp_classifier(const MLPClassifierOptions& o) {
  auto s = std::make_shared<Sequential>();
  s->push_back(std::make_shared<Flatten>());
  int64_t c = o.in_features;
  for (int64_t h : o.hidden) {
    s->push_back(std::make_shared<Linear>(c, h));
    s->push_back(make_activation(o.activation));
    if (o.dropout > 0) s->push_back(std::make_shared<Dropout>(o.dropout));
    c = h;
  }
  s->push_back(std::make_shared<Linear>(c, o.num_classes));
  return s;
}

namespace {
const bool registered = [] {
  models().add("mlp", MLPClassifierOptions{}, [](const MLPClassifierOptions& o) -> ModulePtr { return mlp_classifier(o); },
               "Flatten + Linear/activation layers");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
