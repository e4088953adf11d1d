#pragma once
// nn.Module: a tree of named parameters, buffers and submodules. state_dict keys are the dotted
// paths PyTorch uses ("layer1.0.conv1.weight"), so weights move one-to-one between Tessera and
// PyTorch/timm models of the same architecture.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tessera::nn {

// Insertion-ordered name -> Tensor map (PyTorch's OrderedDict of a state dict).
class StateDict {
 public:
  void insert(const std::string& key, const Tensor& t);  // replaces an existing key in place
  bool contains(const std::string& key) const;
  const Tensor& at(const std::string& key) const;  // throws std::out_of_range naming the key
  size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::vector<std::string> keys() const;

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

struct LoadResult {
  std::vector<std::string> missing_keys, unexpected_keys, mismatched_keys;  // mismatched: "key: [a] vs [b]"
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched_keys.empty(); }
};

// Named model inputs and outputs: the seam between a batch of data and a model. A model reads the
// inputs it knows by name ("image", "depth", "input_ids", "attention_mask", ...) and returns named
// outputs ("logits", "output", ...). `state` is carried from one batch to the next by the caller
// (a recurrent or memory model's hidden state, Titans' memory): the model reads it from the input
// and returns the new one in the output; the caller detaches it between batches.
using TensorMap = std::map<std::string, Tensor>;

struct ModelInput {
  TensorMap tensors;
  TensorMap state;  // empty on the first batch of an epoch / evaluation
  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // The input called name; throws std::invalid_argument listing the inputs there are.
  const Tensor& at(const std::string& name) const;
};

struct ModelOutput {
  TensorMap tensors;
  TensorMap state;
  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  const Tensor& at(const std::string& name) const;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The module's class name as PyTorch prints it ("Linear", "Sequential").
  virtual std::string type_name() const = 0;
  // One-argument forward, used by Sequential and operator(); modules with other signatures
  // define their own forward overloads.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // Named forward, the one the trainer, evaluation and benchmarks call. Models with several
  // inputs, masks or carried state override it. The default serves one-tensor models: exactly one
  // input tensor (whatever its name) -> {"output": forward(x)}, no state.
  virtual ModelOutput forward_named(const ModelInput& in);

  const Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  const Tensor& register_buffer(const std::string& name, Tensor t, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // Every module in the tree (prefix "" for this one), depth first in registration order.
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  int64_t num_parameters(bool only_trainable = false) const;

  StateDict state_dict() const;  // parameters and persistent buffers, detached, sharing storage
  // Copies values into this module's tensors. strict: any missing/unexpected/mismatched key is an
  // error listing all of them; non-strict: loads what matches and reports the rest. Shape
  // mismatches are always errors for the keys that exist in both, and nothing is modified
  // unless every such key matches.
  LoadResult load_state_dict(const StateDict& sd, bool strict = true);

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad(bool set_to_none = true);
  // module.to(dtype) / .double() / .float(): converts every floating-point parameter and buffer
  // of the tree in place. The Tensor handles stay the same objects (members such as
  // Linear::weight, optimizers built afterwards and tied weights all see the new data), integer
  // buffers are left alone, and .grad is dropped (it would have the old dtype). Like PyTorch,
  // build optimizers after converting: their state is not converted.
  Module& to(DType dtype);
  Module& double_() { return to(DType::Float64); }
  Module& float_() { return to(DType::Float32); }
  void apply(const std::function<void(Module&)>& fn);

  // PyTorch-style tree printout: "Sequential(\n  (0): Linear(in_features=4, ...)\n)".
  std::string to_string() const;
  virtual std::string extra_repr() const { return ""; }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  bool training_ = true;

 private:
  void collect(const std::string& prefix, bool params, bool recurse, bool persistent_only,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::string> non_persistent_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace tessera::nn
