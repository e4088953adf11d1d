#pragma once
// Titans' neural long-term memory (LMM; Behrouz et al. 2025, sections 3 and 4.4). A small MLP per
// head whose weights M are *fast weights*: they are trained at test time by gradient descent with
// momentum and forgetting on the associative loss l(M; x_t) = ||M(k_t) - v_t||^2 / head_dim:
//   S_t = eta_t S_{t-1} - theta_t grad l(M_{t-1}; x_t)      (surprise with momentum)
//   M_t = (1 - alpha_t) M_{t-1} + S_t                         (forgetting)
//   y_t = M*(q_t)                                             (retrieval, no update)
// Training is chunked (paper 3.2): inside a chunk of `chunk_size` tokens every inner gradient is
// taken at the chunk-start weights, momentum and decay are applied in closed form per chunk, and
// the tokens of chunk i are read with the memory written by chunks < i. The result equals a
// token-by-token recursion that takes its gradients at the chunk-start weights (exactly, for
// chunk_size 1: the fully sequential memory); tests/nn/test_neural_memory.cpp checks it to 1e-10.
// The outer loss differentiates through the inner update (W_K, W_V, theta/eta/alpha and the
// initial memory M_0 only reach the output that way), either with a closed-form inner gradient
// written in differentiable ops or with autograd::grad(create_graph) inside forward.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/titans/causal_conv1d.h"

namespace tessera::nn {

struct NeuralMemoryOptions {            // visit_options-declared, YAML names = field names
  int64_t dim = 0;                      // model width (input/output of the layer)
  int64_t heads = 1;                    // memory heads; each head has its own memory MLP over head_dim = dim/heads
  int64_t depth = 2;                    // L_M; 1 = linear memory
  int64_t expansion = 4;                // hidden width of a deep memory = expansion * head_dim
  int64_t chunk_size = 16;              // b in paper section 3.2
  bool momentum = true;                 // false: eta = 0 (ablation "w/o momentum")
  bool weight_decay = true;             // false: alpha = 0 (ablation "w/o weight decay")
  std::string gates = "token";          // "token" | "chunk": granularity of eta and alpha (theta is per token)
  double max_lr = 0.1;                  // theta = max_lr * sigmoid(Linear(x))
  int64_t conv_kernel = 4;              // causal depthwise conv after q/k/v projections; 0 disables
  std::string inner_grad = "closed_form"; // "closed_form" | "autograd" (create_graph inside forward)
};
void visit_options(NeuralMemoryOptions& o, OptionVisitor& v);
void validate_options(const NeuralMemoryOptions& o);
// The same table inside a model's: every key but dim (the model's width), named prefix + key
// ("memory_depth", "memory_chunk_size", ...). validate_memory_options re-throws with the prefix.
void visit_memory_options(NeuralMemoryOptions& o, OptionVisitor& v, const std::string& prefix);
void validate_memory_options(NeuralMemoryOptions o, int64_t dim, const std::string& prefix);

// Per-sequence memory state carried across segments and across calls (test-time learning).
struct MemoryState {
  std::vector<Tensor> weights;   // per memory layer, [B*heads, out, in] (fast weights)
  std::vector<Tensor> momentum;  // same shapes (surprise S)
  int64_t tokens_seen = 0;
  // The last conv_kernel - 1 projected (pre-conv) inputs of the causal convs, [B, conv_kernel - 1, dim]
  // each, so a sequence split across calls convolves exactly like the whole one. Empty: zero history.
  // conv_q is advanced by forward() and advance_query_conv(); conv_k/conv_v by update().
  Tensor conv_q, conv_k, conv_v;
  // MAC reads the memory from two sequences: the segment inputs (retrieval before attention) and the
  // attention outputs (written, then read). Each query conv runs over its own sequence, so the
  // retrieval's query history (the last segment's inputs) is kept here, apart from conv_q (y's).
  Tensor conv_read;
  bool defined() const { return !weights.empty(); }
};

// The per-token quantities the memory is driven by, after projections, convs, SiLU and l2 norms.
// Laid out per head: [B*heads, T, head_dim] for q/k/v and [B*heads, T] for the gates.
struct MemoryInputs {
  Tensor q, k, v;
  Tensor theta;     // inner learning rate, in (0, max_lr)
  Tensor log_eta;   // log of the momentum factor eta (undefined when momentum = false: eta = 0)
  Tensor log_keep;  // log(1 - alpha) (undefined when weight_decay = false: alpha = 0)
};

class NeuralMemory : public Module {
 public:
  explicit NeuralMemory(NeuralMemoryOptions o);
  std::string type_name() const override { return "NeuralMemory"; }
  std::string extra_repr() const override;

  MemoryState initial_state(int64_t batch) const;          // M_0 = learned initial weights (parameters), S_0 = 0
  // Read with queries from x using `state` (no update): y [B, T, dim].
  Tensor retrieve(const Tensor& x, const MemoryState& state) const;
  // Write keys/values from x into the memory (chunked, chunk-start rule), returning the new state.
  MemoryState update(const Tensor& x, const MemoryState& state) const;
  // LMM layer semantics: chunk i is read with the memory written by chunks < i, then written.
  // Returns y [B, T, dim]; if `state` is given, starts from it and stores the final state in it.
  // (The agreed `MemoryState* state = nullptr` default is the one-argument override below, which
  // also serves Module::forward callers.)
  Tensor forward(const Tensor& x, MemoryState* state);
  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }

  // Moves the query conv history of `state` past x (retrieve() is const and leaves it alone); a
  // caller that retrieves from one sequence and writes another (MAC) calls this after retrieve.
  void advance_query_conv(const Tensor& x, MemoryState& state) const;

  // Building blocks, public for tests and the Titans variants.
  // Projections, convs, activations, norms and gates of x [B, T, dim], with conv history from state.
  MemoryInputs inputs(const Tensor& x, const MemoryState& state) const;
  // The memory MLP with fast weights `w` (per layer [N, out, in]) applied to keys [N, T, head_dim].
  Tensor apply_memory(const std::vector<Tensor>& w, const Tensor& keys) const;
  // Output path (paper 4.4): per-head RMSNorm of the raw retrieval r [B*heads, T, head_dim], a
  // sigmoid gate from x, and the output projection -> [B, T, dim].
  Tensor output(const Tensor& r, const Tensor& x) const;
  // One chunk's write: replaces (weights, momentum), the chunk-start state, by the chunk-end state
  // for the chunk's inputs, closed form or autograd per options().inner_grad. If `read` is given,
  // it also returns the retrieval of the chunk's queries at the chunk-start weights (the memory
  // forward of keys and queries then shares its matmuls).
  void write_chunk(const MemoryInputs& in, std::vector<Tensor>& weights, std::vector<Tensor>& momentum,
                   Tensor* read = nullptr) const;

  const NeuralMemoryOptions& options() const { return o_; }
  int64_t head_dim() const { return o_.dim / o_.heads; }

  // Parameters (state_dict keys in brackets).
  std::shared_ptr<Linear> to_q, to_k, to_v;           // [to_q.weight] ... Linear(dim, dim), no bias
  std::shared_ptr<CausalConv1d> conv_q, conv_k, conv_v; // [conv_q.weight] depthwise [dim, 1, conv_kernel]
  std::shared_ptr<Linear> to_theta, to_eta, to_alpha; // Linear(dim, heads); eta/alpha only when used
  std::vector<Tensor> init_weights;                   // [init_w<l>] M_0 per layer, [heads, out, in]
  std::shared_ptr<RMSNorm> out_norm;                   // RMSNorm(head_dim), shared by the heads
  std::shared_ptr<Linear> to_gate, to_out;            // Linear(dim, dim), Linear(dim, dim, no bias)

 private:
  // lin(x) per head, [B*heads, T]; per_chunk: lin of the chunk-mean of x, repeated over the chunk.
  Tensor gate_logits(const std::shared_ptr<Linear>& lin, const Tensor& x, bool per_chunk) const;
  Tensor to_heads(const Tensor& t) const;  // [B, T, dim] -> [B*heads, T, head_dim]
  NeuralMemoryOptions o_;
};

}  // namespace tessera::nn
