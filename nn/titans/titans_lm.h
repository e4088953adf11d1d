#pragma once
// The three Titans architectures (Behrouz et al. 2025, section 4) as causal language models over
// the Transformer++ skeleton (token embedding, pre-norm layers with a SwiGLU MLP, final RMSNorm, tied
// logits). Only the token-mixing half of a layer differs; with xn = RMSNorm(x), P persistent tokens p:
//   MAC  segments of length C; per segment S (state M_{s-1} from the segments before):
//          h = M*_{s-1}(S)                      retrieval with queries from the segment, no update
//                                               (their causal conv continues over the segment inputs
//                                               before S, not over the attention outputs)
//          y = Attn([p || h || S])[S's rows]   causal: row t sees p, h_<=t and S_<=t
//          o = y * M(y)                         the memory is written from the attention output y and
//                                               read back with the LMM chunk rule (chunk i of y is read
//                                               with the memory written by chunks < i, then written),
//                                               the causal form of the paper's o_t = y_t (x) M*_t(y_t)
//        the memory state after S is carried to the next segment (and across calls: forward_named).
//        A partial last segment is zero-padded to length C (all of the above is causal, so its rows
//        are exactly those the completed segment will have).
//   MAG  y = SWA([p || xn]) with the prefix always visible,  m = LMM([p || xn]),
//        o = RMSNorm(y) * sigmoid(RMSNorm(m))          (rows of p dropped)
//   MAL  m = [p || xn] + LMM([p || xn]),  o = SWA(RMSNorm(m)) with m's first P rows as visible prefix
// and x + o, then x + SwiGLU(RMSNorm(x)). Layers not listed in memory_layers keep the same attention
// without memory (MAC: [p || S] per segment; MAG/MAL: SWA with the prefix).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/swiglu.h"
#include "nn/titans/neural_memory.h"
#include "nn/titans/transformer_pp.h"

namespace tessera::nn {

struct TitansOptions {
  std::string variant = "mac";  // mac | mag | mal (fixed by the registry name)
  int64_t vocab_size = 256;
  int64_t dim = 128;
  int64_t depth = 4;
  int64_t heads = 4;
  int64_t mlp_hidden = 0;          // 0: swiglu_hidden(dim)
  int64_t window = 64;             // MAG/MAL sliding window (keys at most this far back)
  int64_t segment = 64;            // MAC segment length C (a multiple of memory chunk_size)
  int64_t persistent_tokens = 4;   // N_p per layer
  std::vector<int64_t> memory_layers;  // layer indices with a memory; empty: every layer
  bool tie_embeddings = true;
  double rope_base = 10000.0;
  double norm_eps = 1e-6;
  NeuralMemoryOptions memory;      // YAML keys memory_<field> (memory_depth, memory_chunk_size, ...); dim = dim
};
void visit_options(TitansOptions& o, OptionVisitor& v);
void validate_options(const TitansOptions& o);

// What a MAG/MAL layer carries between calls of a stateful run (generation): the memory at the last
// committed chunk boundary of its input stream [p || x] and the attention inputs before the rows not
// yet committed: the P prefix rows (MAG: p; MAL: RMSNorm(p + LMM(p))) followed by the last `window`
// committed rows (every committed row when window < 0): the attention's key/value cache, kept as its
// inputs and bounded by P + window rows. `offset` counts the committed rows cut from its front: the
// rotary position of its first row after the prefix (the unrotated prefix makes scores depend on
// absolute positions, so the cut window keeps them). Empty: nothing committed yet.
struct WindowState {
  MemoryState memory;
  Tensor context;      // [B, P + min(committed rows, window), dim]
  int64_t offset = 0;  // committed rows no longer in context
  bool started() const { return context.defined(); }
};

// One Titans layer (the variant's token mixer + SwiGLU MLP).
class TitansLayer : public Module {
 public:
  TitansLayer(const TitansOptions& o, bool with_memory);
  std::string type_name() const override { return "TitansLayer"; }
  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }
  // x [B, T, dim]. `state` (may be null: start from M_0) is the layer's memory state before x and,
  // on return, after x. MAC commits only whole segments: a trailing partial segment is computed from
  // a copy, so feeding a sequence in pieces cut at segment boundaries gives the same state.
  Tensor forward(const Tensor& x, MemoryState* state);
  // MAG/MAL, stateful: x [B, n, dim] are the rows after those `state` holds (all of the text when
  // !state->started()). commit >= 0: the first `commit` rows of x end at a chunk boundary of the
  // memory stream and are written into `state` (memory and attention context); the rest is computed
  // from a copy (it is fed again with the next call). commit < 0: `state` is left as it is.
  Tensor forward_window(const Tensor& x, WindowState& state, int64_t commit);
  // The token-mixing half alone (o above), exposed for the block tests.
  Tensor mix(const Tensor& xn, MemoryState* state);
  bool has_memory() const { return memory != nullptr; }

  std::shared_ptr<RMSNorm> attn_norm, mlp_norm;
  std::shared_ptr<PrefixAttention> attn;
  std::shared_ptr<NeuralMemory> memory;        // null in layers without memory
  std::shared_ptr<RMSNorm> gate_norm_y, gate_norm_m;  // MAG only
  std::shared_ptr<RMSNorm> mem_norm;                  // MAL only
  std::shared_ptr<SwiGLU> mlp;

 private:
  Tensor mix_mac(const Tensor& xn, MemoryState* state);
  // MAG and MAL (state null: the whole text in one call).
  Tensor mix_window(const Tensor& xn, WindowState* state, int64_t commit);
  Tensor memory_rows(const Tensor& in, MemoryState* state, int64_t commit);
  std::string variant_;
  int64_t segment_, P_;
};

// Attention mask of MAC over [p (P) || h (L) || S (L)] as an additive bias [P + 2L, P + 2L]
// (0 visible, -inf hidden): p causal among itself; h_t and S_t see p, h_<=t and S_<=t (h_t sees no S).
Tensor mac_attention_bias(int64_t P, int64_t L, DType dtype);

class TitansLM : public Module {
 public:
  explicit TitansLM(TitansOptions o);
  std::string type_name() const override { return "TitansLM"; }
  Tensor forward(const Tensor& tokens) override;  // int64 [B, T] -> logits [B, T, vocab]
  // Stateful form: tokens "input" [B, T] and the state of earlier calls -> "output" logits of these
  // tokens and the new state. MAC carries every layer's memory state at the last segment boundary and
  // the tokens since then ("pending"); those are recomputed with the next call, so a text fed in
  // several calls gives exactly the logits and state of one call. MAG/MAL carry every layer's
  // WindowState at the last memory-chunk boundary of the stream [p || text] ("stream": its length,
  // 0 before the first), with the tokens since then as "pending": a call runs the memory and MLPs on
  // its new tokens and fewer than memory_chunk_size pending ones; the attention runs over the persistent
  // prefix and the cached inputs of the last `window` committed rows (see WindowState), so a generated
  // token costs O(P + window + chunk) whatever the history's length.
  ModelOutput forward_named(const ModelInput& in) override;
  const TitansOptions& options() const { return o_; }
  std::shared_ptr<TitansLayer> layer(size_t i) const;

 private:
  Tensor run(const Tensor& tokens, std::vector<MemoryState>* states);
  ModelOutput forward_window(const ModelInput& in);
  TitansOptions o_;
  std::shared_ptr<Module> embed_, layers_, norm_, head_;
};

// MemoryState <-> named tensors ("<prefix>w<l>", "<prefix>s<l>", "<prefix>conv_q", ..., "<prefix>conv_read", "<prefix>tokens_seen").
void pack_memory_state(const MemoryState& s, const std::string& prefix, TensorMap& out);
MemoryState unpack_memory_state(const TensorMap& in, const std::string& prefix);

}  // namespace tessera::nn
