#pragma once
// What an op needs to join the graph. The pattern (see autograd/ops/*.cpp):
//
//   Tensor out = kernels::mul(a, b);
//   if (auto node = autograd::make_node("MulBackward", {a, b})) {
//     node->set_backward([sa = save(a), sb = save(b)](const TensorList& g, const Node& n) {
//       return TensorList{n.needs_input_grad(0) ? mul(g[0], sb.unpack()) : Tensor(), ...};
//     });
//     autograd::set_history(node, {out});
//   }
//
// save_output() must be called after set_history, because a saved output refers back to its node.
#include <functional>
#include <memory>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace tessera::autograd {

struct OpNode : Node {
  explicit OpNode(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  TensorList apply(TensorList&& grads) override;
  void release_saved() override { fn_ = nullptr; }
  void set_backward(BackwardFn fn) { fn_ = std::move(fn); }

 private:
  std::string name_;
  BackwardFn fn_;
};

// True when grad mode is on and some input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const TensorList& inputs);

// A node for an op with these inputs, or nullptr when nothing needs a gradient.
std::shared_ptr<OpNode> make_node(std::string name, const TensorList& inputs);
// Makes outputs the results of node (output i gets output_nr i).
void set_history(const std::shared_ptr<Node>& node, const TensorList& outputs);

// Applies a linear map A (raw kernel `a`) whose adjoint is `at`, recording it so that the
// backward of A is At and the backward of At is A: derivatives of every order then come for free.
// Pooling, interpolation and gather/scatter pairs are written this way.
using RawMap = std::function<Tensor(const Tensor&)>;
Tensor linear_map(const std::string& name, const std::string& adjoint_name, RawMap a, RawMap at, const Tensor& x);

inline SavedTensor save(const Tensor& t) { return SavedTensor(t, false); }
inline SavedTensor save_output(const Tensor& t) { return SavedTensor(t, true); }

}  // namespace tessera::autograd
