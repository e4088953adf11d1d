#include "experiments/task.h"
#include "experiments/registry.h"

#include <stdexcept>

namespace tessera::experiments {

void Task::reset_metrics() {
  for (auto& m : metrics_) m->reset();
}

std::map<std::string, double> Task::compute_metrics() const {
  std::map<std::string, double> r;
  for (const auto& m : metrics_)
    for (const auto& [k, v] : m->compute()) r[k] = v;
  return r;
}

std::string Task::report() const {
  std::string r;
  for (const auto& m : metrics_) r += m->report();
  return r;
}

void visit_options(SupervisedTaskOptions& o, OptionVisitor& v) {
  v("inputs", o.inputs, "batch fields given to the model, under the same names");
  v("target", o.target, "batch field the loss and metrics compare against");
  v("output", o.output, "model output the loss and metrics read");
  v("carry_state", o.carry_state, "pass the model's returned state into the next batch (detached)");
}

void validate_options(const SupervisedTaskOptions& o) {
  if (o.inputs.empty()) throw OptionError("inputs", "a non-empty list of batch field names");
  if (o.target.empty()) throw OptionError("target", "a batch field name");
  if (o.output.empty()) throw OptionError("output", "a model output name");
}

SupervisedTask::SupervisedTask(std::string name, SupervisedTaskOptions o, LossFn loss)
    : name_(std::move(name)), o_(std::move(o)), loss_(std::move(loss)) {
  validate_options(o_);
}

const Tensor& SupervisedTask::output_of(const nn::ModelOutput& out) const {
  // With the default output name, a model's only output is taken whatever it is called
  // ("logits"); a name given in the config must exist.
  if (o_.output == SupervisedTaskOptions{}.output && out.tensors.size() == 1 && !out.has(o_.output))
    return out.tensors.begin()->second;
  return out.at(o_.output);
}

TaskOutput SupervisedTask::forward(nn::Module& model, const data::Batch& batch, nn::TensorMap& state) const {
  nn::ModelInput in;
  for (const auto& k : o_.inputs) in.tensors[k] = batch.at(k);
  if (o_.carry_state) in.state = state;
  TaskOutput r;
  r.outputs = model.forward_named(in);
  r.samples = batch.size();
  r.loss = loss_(output_of(r.outputs), batch.at(o_.target));
  if (o_.carry_state) {
    state.clear();
    for (const auto& [k, t] : r.outputs.state) state[k] = t.detach();
  }
  return r;
}

void SupervisedTask::update_metrics(const TaskOutput& out, const data::Batch& batch) {
  const Tensor& y = output_of(out.outputs);
  const Tensor& t = batch.at(o_.target);
  for (auto& m : metrics_) m->update(y, t);
}

// ------------------------------------------------------------------------- YAML registrations

namespace {
// One supervised task under the names users look for; they differ only in which batch fields they
// read by default ("supervised": data.input_key -> data.target_key).
struct NamedTask {
  const char* name;
  const char* input;   // nullptr: data.input_key
  const char* target;  // nullptr: data.target_key
  const char* help;
};
const bool registered = [] {
  for (const NamedTask& t :
       {NamedTask{"supervised", nullptr, nullptr, "model(inputs) -> output against target (default fields: data.input_key/target_key)"},
        NamedTask{"classification", "image", "label", "supervised task over image -> label"},
        NamedTask{"language_modeling", "input", "target", "next-token prediction over input -> target token blocks"}}) {
    TaskRegistry::Entry e;
    e.help = t.help;
    e.options = [t] {
      SupervisedTaskOptions o;
      o.inputs = {t.input ? t.input : "<data.input_key>"};
      o.target = t.target ? t.target : "<data.target_key>";
      return describe_options(o);
    };
    e.build = [t](OptionVisitor& reader, const TaskDefaults& d, LossFn loss) -> std::unique_ptr<Task> {
      SupervisedTaskOptions o;
      o.inputs = {t.input ? t.input : d.input_key};
      o.target = t.target ? t.target : d.target_key;
      visit_options(o, reader);
      validate_options(o);
      return std::make_unique<SupervisedTask>(t.name, o, std::move(loss));
    };
    tasks().add_entry(t.name, std::move(e));
  }
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
