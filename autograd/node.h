#pragma once
// The recorded graph. Each differentiable op that sees an input requiring grad creates one Node
// holding its backward rule; the node's next_edges point at the nodes that produced its inputs
// (or at AccumulateGrad for leaves). Backward rules are written with Tessera's differentiable
// ops, so running them with grad mode on (create_graph) records the graph of the gradient.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which output of fn this edge's gradient belongs to
  bool valid() const { return fn != nullptr; }
};

// Returns a replacement gradient, or an undefined Tensor to keep the incoming one.
using Hook = std::function<Tensor(const Tensor&)>;

struct Node : std::enable_shared_from_this<Node> {
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  // grads[i] is the gradient w.r.t. output i (zeros when nothing flowed into it, or undefined for a
  // node that accepts_undefined_grads); returns one
  // gradient per next edge (undefined where no gradient is needed).
  virtual TensorList apply(TensorList&& grads) = 0;
  // Frees saved tensors after a backward pass without retain_graph.
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<std::vector<Hook>> pre_hooks;  // per output: run on the gradient before apply
  struct OutputMeta {
    Shape shape;
    DType dtype;
  };
  std::vector<OutputMeta> outputs;  // to build zero gradients for outputs nothing flowed into
  uint64_t sequence_nr = 0;         // creation order: later nodes run first in backward
  // The engine casts each gradient to the dtype of the tensor it belongs to (torch's
  // validate_outputs), except into a node that sets this: a dtype cast's backward, which casts
  // to its source dtype anyway, so autocast's float32 weight gradients reach their float32
  // parameters without a round trip through bfloat16.
  bool takes_any_float_grad = false;
  // The node's backward handles an undefined gradient for an output that nothing flowed into
  // (torch's materialize_grads = False), so the engine does not build zeros for it unless that
  // output has hooks or is a grad() target. A fused op with several outputs, one of them often
  // unused (add_layer_norm's sum after a post-LN block), then skips a pass over zeros.
  bool accepts_undefined_grads = false;

  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].valid(); }
};

// Accumulates the incoming gradient into a leaf's .grad.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(Tensor variable);
  std::string name() const override { return "AccumulateGrad"; }
  TensorList apply(TensorList&& grads) override;
  Tensor variable;
};

// A tensor kept for backward. Saving an op's own output must not keep the output alive through
// its grad_fn (a cycle), so outputs keep only their data plus a weak link to the node, and are
// re-attached on unpack. The storage version is recorded to detect in-place modification.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const std::string& node_name = "") const;
  bool defined() const { return data_.defined(); }
  void reset() { data_ = Tensor(); }

 private:
  Tensor data_;
  bool is_output_ = false;
  bool requires_grad_ = false;
  std::weak_ptr<Node> fn_;
  uint32_t output_nr_ = 0;
  uint64_t version_ = 0;
};

// Backward rule of an OpNode (autograd/record.h): gradients w.r.t. the outputs in, one
// gradient per input out.
using BackwardFn = std::function<TensorList(const TensorList& grads, const Node& self)>;

uint64_t next_sequence_nr();
// The edge a gradient for t should flow into (its grad_fn, or its leaf accumulator, created on
// demand); invalid when t does not require grad.
Edge gradient_edge(const Tensor& t);

}  // namespace tessera::autograd
