#include "nn/titans/titans_lm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/registry.h"

namespace tessera::nn {

// ------------------------------------------------------------------------------------------ layer

TitansLayer::TitansLayer(const TitansOptions& o, bool with_memory)
    : variant_(o.variant), segment_(o.segment), P_(o.persistent_tokens) {
  attn_norm = register_module("attn_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  // MAC attends inside a segment: no window there.
  const int64_t window = o.variant == "mac" ? -1 : o.window;
  attn = register_module("attn", std::make_shared<PrefixAttention>(o.dim, o.heads, window, o.persistent_tokens,
                                                                   o.rope_base));
  if (with_memory) {
    NeuralMemoryOptions mo = o.memory;
    mo.dim = o.dim;
    memory = register_module("memory", std::make_shared<NeuralMemory>(mo));
    if (variant_ == "mag") {
      gate_norm_y = register_module("gate_norm_y", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
      gate_norm_m = register_module("gate_norm_m", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
    } else if (variant_ == "mal") {
      mem_norm = register_module("mem_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
    }
  }
  mlp_norm = register_module("mlp_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  mlp = register_module("mlp", std::make_shared<SwiGLU>(o.dim, o.mlp_hidden));
}

Tensor mac_attention_bias(int64_t P, int64_t L, DType dtype) {
  const int64_t N = P + 2 * L;
  // Each row's visible keys by explicit index rules: a small [N, N] table built once per segment length.
  std::vector<double> b(size_t(N * N), -INFINITY);
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      bool visible;
      if (i < P) visible = j <= i;                // persistent tokens: causal among themselves
      else if (j < P) visible = true;             // everyone sees the persistent tokens
      else {
        const bool qi_h = i < P + L, kj_h = j < P + L;
        const int64_t ti = qi_h ? i - P : i - P - L, tj = kj_h ? j - P : j - P - L;
        visible = tj <= ti && (kj_h || !qi_h);    // h_t sees h_<=t; S_t sees h_<=t and S_<=t
      }
      if (visible) b[size_t(i * N + j)] = 0.0;
    }
  }
  return to(from_vector<double>(b, {N, N}), dtype);
}

Tensor TitansLayer::mix_mac(const Tensor& xn, MemoryState* state) {
  const int64_t B = xn.shape()[0], T = xn.shape()[1];
  MemoryState committed = memory && state && state->defined() ? *state : (memory ? memory->initial_state(B) : MemoryState{});
  TensorList outs;
  for (int64_t s0 = 0; s0 < T; s0 += segment_) {
    const int64_t n = std::min(segment_, T - s0);
    const bool whole = n == segment_;
    // A partial last segment is padded to the full length with zeros after its tokens: everything
    // here is causal, so its rows are those of the completed segment (the rotary positions of h and
    // S depend on the segment length), which keeps a text cut into calls equal to one call.
    Tensor seg = narrow(xn, 1, s0, n);
    if (!whole) seg = cat({seg, zeros({B, segment_ - n, xn.shape()[2]}, {.dtype = xn.dtype()})}, 1);
    const int64_t L = segment_;
    Tensor prefixed = attn->persistent ? attn->persistent->forward(seg) : seg;
    if (!memory) {
      outs.push_back(narrow(attn->attend_prefixed(prefixed, P_), 1, P_, n));
      continue;
    }
    // Read with the state of the segments before (M*_{s-1}), attend, then write from y. The read's
    // query conv continues over the segment inputs (conv_read), not over y (conv_q).
    MemoryState reader = committed;
    reader.conv_q = committed.conv_read;
    Tensor h = memory->retrieve(seg, reader);
    Tensor full = cat({narrow(prefixed, 1, 0, P_), h, seg}, 1);
    Tensor y = narrow(attn->attn->forward(full, AttentionMask{.attn_bias = mac_attention_bias(P_, L, xn.dtype())}),
                      1, P_ + L, L);
    MemoryState next = committed;
    Tensor read = memory->forward(y, &next);
    outs.push_back(narrow(mul(y, read), 1, 0, n));
    if (whole) {  // a partial segment is recomputed once complete
      memory->advance_query_conv(seg, reader);
      committed = std::move(next);
      committed.conv_read = reader.conv_q;
    }
  }
  if (memory && state) *state = std::move(committed);
  return outs.size() == 1 ? outs[0] : cat(outs, 1);
}

namespace {
// Rows of a then b (dim 1); either may be undefined or empty.
Tensor cat_rows(const Tensor& a, const Tensor& b) {
  if (!a.defined() || a.shape()[1] == 0) return b;
  if (!b.defined() || b.shape()[1] == 0) return a;
  return cat({a, b}, 1);
}
}  // namespace

// The memory over `in`, writing its first `commit` rows into *state (commit < 0: none). `in` starts at a
// chunk boundary of the stream and commit is one, so the two pieces are chunked exactly as one call.
Tensor TitansLayer::memory_rows(const Tensor& in, MemoryState* state, int64_t commit) {
  if (!state) return memory->forward(in, nullptr);
  const int64_t n = in.shape()[1];
  if (commit < 0) {
    MemoryState scratch = *state;
    return memory->forward(in, &scratch);
  }
  Tensor done = commit > 0 ? memory->forward(narrow(in, 1, 0, commit), state) : Tensor();
  if (commit == n) return done;
  MemoryState scratch = *state;  // the rows after the boundary are fed again with the next call
  return cat_rows(done, memory->forward(narrow(in, 1, commit, n - commit), &scratch));
}

Tensor TitansLayer::mix_window(const Tensor& xn, WindowState* state, int64_t commit) {
  const int64_t T = xn.shape()[1];
  const bool first = !state || !state->started();
  // The stream starts with the text: p goes in front of the memory's and the attention's input once.
  Tensor in = first && attn->persistent ? attn->persistent->forward(xn) : xn;
  const int64_t off = in.shape()[1] - T;  // P on the first call, else 0
  Tensor m = memory ? memory_rows(in, state ? &state->memory : nullptr, commit < 0 ? -1 : off + commit) : Tensor();
  // MAG attends over [p || xn], MAL over RMSNorm([p || xn] + LMM([p || xn])); later calls put the
  // cached prefix and window rows in front instead.
  Tensor a = memory && variant_ == "mal" ? mem_norm->forward(add(in, m)) : in;
  Tensor rows = off > 0 ? narrow(a, 1, off, T) : a;
  Tensor full = first ? a : cat_rows(state->context, rows);
  const int64_t before = full.shape()[1] - T;
  const int64_t position = first ? 0 : state->offset;
  Tensor y = narrow(attn->attend_prefixed(full, P_, position), 1, before, T);
  if (state && commit >= 0) {
    // Keep the prefix and the last `window` committed rows: a later query i sees keys j >= i - window
    // only, and the first query of the next call is the first uncommitted row. The rows cut from the
    // front move `offset`, so the kept rows keep their rotary positions.
    Tensor kept = cat_rows(narrow(full, 1, 0, before), narrow(rows, 1, 0, commit));
    const int64_t R = kept.shape()[1] - P_;  // committed rows after the prefix
    const int64_t window = attn->window();
    const int64_t K = window >= 0 ? std::min(R, window) : R;
    state->context = contiguous(K == R ? kept : cat_rows(narrow(kept, 1, 0, P_), narrow(kept, 1, P_ + R - K, K)));
    state->offset = position + (R - K);
  }
  if (!memory || variant_ == "mal") return y;
  return mul(gate_norm_y->forward(y), sigmoid(gate_norm_m->forward(off > 0 ? narrow(m, 1, off, T) : m)));
}

Tensor TitansLayer::mix(const Tensor& xn, MemoryState* state) {
  if (variant_ == "mac") return mix_mac(xn, state);
  if (state)
    throw std::invalid_argument("TitansLayer (" + variant_ + "): a memory state alone does not continue a text "
                                "(the attention window reaches back too); use forward_window");
  return mix_window(xn, nullptr, -1);
}

Tensor TitansLayer::forward_window(const Tensor& x, WindowState& state, int64_t commit) {
  if (variant_ == "mac") throw std::invalid_argument("TitansLayer: forward_window is for MAG and MAL");
  Tensor h = add(x, mix_window(attn_norm->forward(x), &state, commit));
  return add(h, mlp->forward(mlp_norm->forward(h)));
}

Tensor TitansLayer::forward(const Tensor& x, MemoryState* state) {
  Tensor h = add(x, mix(attn_norm->forward(x), state));
  return add(h, mlp->forward(mlp_norm->forward(h)));
}

// ------------------------------------------------------------------------------------------ model

TitansLM::TitansLM(TitansOptions o) : o_(std::move(o)) {
  validate_options(o_);
  auto embed = std::make_shared<Embedding>(o_.vocab_size, o_.dim);
  init::normal_(embed->weight, 0.0, 0.02);
  embed_ = register_module("embed", embed);
  auto layers = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < o_.depth; ++i) {
    const bool mem = o_.memory_layers.empty() ||
                     std::find(o_.memory_layers.begin(), o_.memory_layers.end(), i) != o_.memory_layers.end();
    layers->push_back(std::make_shared<TitansLayer>(o_, mem));
  }
  layers_ = register_module("layers", layers);
  norm_ = register_module("norm", std::make_shared<RMSNorm>(o_.dim, o_.norm_eps));
  if (!o_.tie_embeddings)
    head_ = register_module("head", std::make_shared<Linear>(o_.dim, o_.vocab_size, LinearOptions{.bias = false}));
}

std::shared_ptr<TitansLayer> TitansLM::layer(size_t i) const {
  return static_cast<ModuleList&>(*layers_).at<TitansLayer>(i);
}

Tensor TitansLM::run(const Tensor& tokens, std::vector<MemoryState>* states) {
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("TitansLM: expected int64 tokens [B, T], got " + shape_str(tokens.shape()));
  Tensor h = embed_->forward(tokens);
  auto& layers = static_cast<ModuleList&>(*layers_);
  for (size_t i = 0; i < layers.size(); ++i)
    h = layer(i)->forward(h, states ? &(*states)[i] : nullptr);
  return lm_logits(norm_->forward(h), static_cast<Embedding&>(*embed_).weight, head_);
}

Tensor TitansLM::forward(const Tensor& tokens) { return run(tokens, nullptr); }

ModelOutput TitansLM::forward_window(const ModelInput& in) {
  const Tensor& tokens = in.at("input");
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("TitansLM: expected int64 tokens [B, T], got " + shape_str(tokens.shape()));
  const size_t n_layers = static_cast<ModuleList&>(*layers_).size();
  std::vector<WindowState> states(n_layers);
  Tensor all = tokens;
  int64_t stream = 0;  // rows of [p || text] committed so far (0: none, the next call starts the text)
  if (!in.state.empty()) {
    if (auto it = in.state.find("stream"); it != in.state.end()) stream = it->second.item<int64_t>();
    if (stream > 0) {
      for (size_t i = 0; i < n_layers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        auto ctx = in.state.find(p + "context");
        if (ctx == in.state.end()) throw std::invalid_argument("titans_" + o_.variant + " state: no " + p + "context");
        states[i].context = ctx->second;
        // The context holds the prefix and the last committed rows of the stream; the rows cut from its
        // front give the rotary position of the first kept row.
        states[i].offset = stream - ctx->second.shape()[1];
        if (states[i].offset < 0)
          throw std::invalid_argument("titans_" + o_.variant + " state: " + p + "context has " +
                                      std::to_string(ctx->second.shape()[1]) + " rows, more than the stream's " +
                                      std::to_string(stream));
        if (layer(i)->has_memory()) states[i].memory = unpack_memory_state(in.state, p);
      }
    }
    if (auto it = in.state.find("pending"); it != in.state.end() && it->second.numel() > 0)
      all = cat({it->second, tokens}, 1);
  }
  // The next chunk boundary of the memory stream inside this call (the memory must be written in
  // whole chunks to equal one call); the rows after it are pending. A boundary inside p is none.
  const int64_t P = o_.persistent_tokens, c = o_.memory.chunk_size, A = all.shape()[1];
  const int64_t start = stream > 0 ? stream : 0, end = (stream > 0 ? stream : P) + A;
  const int64_t boundary = end / c * c;
  const int64_t commit = boundary > start && boundary >= P ? boundary - (stream > 0 ? stream : P) : -1;
  Tensor h = embed_->forward(all);
  for (size_t i = 0; i < n_layers; ++i) h = layer(i)->forward_window(h, states[i], commit);
  Tensor logits = lm_logits(norm_->forward(h), static_cast<Embedding&>(*embed_).weight, head_);
  ModelOutput out;
  const int64_t T = tokens.shape()[1];
  out.tensors["output"] = narrow(logits, 1, A - T, T);
  if (commit >= 0) stream = boundary;
  out.state["stream"] = scalar_tensor(double(stream), {.dtype = DType::Int64});
  if (stream > 0)
    for (size_t i = 0; i < n_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      out.state[p + "context"] = states[i].context;
      if (layer(i)->has_memory()) pack_memory_state(states[i].memory, p, out.state);
    }
  const int64_t pending = commit >= 0 ? A - commit : A;
  out.state["pending"] = contiguous(narrow(all, 1, A - pending, pending));
  return out;
}

ModelOutput TitansLM::forward_named(const ModelInput& in) {
  if (o_.variant != "mac") return forward_window(in);
  const Tensor& tokens = in.at("input");
  const size_t n = static_cast<ModuleList&>(*layers_).size();
  std::vector<MemoryState> states(n);
  Tensor all = tokens;
  if (!in.state.empty()) {
    for (size_t i = 0; i < n; ++i)
      if (layer(i)->has_memory()) states[i] = unpack_memory_state(in.state, "layers." + std::to_string(i) + ".");
    if (auto it = in.state.find("pending"); it != in.state.end() && it->second.numel() > 0)
      all = cat({it->second, tokens}, 1);
  }
  Tensor logits = run(all, &states);
  ModelOutput out;
  const int64_t T = tokens.shape()[1], A = all.shape()[1];
  out.tensors["output"] = narrow(logits, 1, A - T, T);
  for (size_t i = 0; i < n; ++i)
    if (layer(i)->has_memory()) pack_memory_state(states[i], "layers." + std::to_string(i) + ".", out.state);
  const int64_t pending = A % o_.segment;
  out.state["pending"] = contiguous(narrow(all, 1, A - pending, pending));
  return out;
}

void pack_memory_state(const MemoryState& s, const std::string& prefix, TensorMap& out) {
  for (size_t l = 0; l < s.weights.size(); ++l) {
    out[prefix + "w" + std::to_string(l)] = s.weights[l];
    out[prefix + "s" + std::to_string(l)] = s.momentum[l];
  }
  if (s.conv_q.defined()) out[prefix + "conv_q"] = s.conv_q;
  if (s.conv_k.defined()) out[prefix + "conv_k"] = s.conv_k;
  if (s.conv_v.defined()) out[prefix + "conv_v"] = s.conv_v;
  if (s.conv_read.defined()) out[prefix + "conv_read"] = s.conv_read;
  out[prefix + "tokens_seen"] = scalar_tensor(double(s.tokens_seen), {.dtype = DType::Int64});
}

MemoryState unpack_memory_state(const TensorMap& in, const std::string& prefix) {
  MemoryState s;
  for (size_t l = 0;; ++l) {
    auto w = in.find(prefix + "w" + std::to_string(l)), m = in.find(prefix + "s" + std::to_string(l));
    if (w == in.end()) break;
    if (m == in.end()) throw std::invalid_argument("memory state: " + prefix + "w" + std::to_string(l) + " without its momentum");
    s.weights.push_back(w->second);
    s.momentum.push_back(m->second);
  }
  if (s.weights.empty()) throw std::invalid_argument("memory state: no weights under '" + prefix + "'");
  auto get = [&](const char* k) { auto it = in.find(prefix + k); return it == in.end() ? Tensor() : it->second; };
  s.conv_q = get("conv_q");
  s.conv_k = get("conv_k");
  s.conv_v = get("conv_v");
  s.conv_read = get("conv_read");
  if (Tensor t = get("tokens_seen"); t.defined()) s.tokens_seen = t.item<int64_t>();
  return s;
}

// ------------------------------------------------------------------------------------------ options


void visit_options(TitansOptions& o, OptionVisitor& v) {
  v("vocab_size", o.vocab_size, "tokens in the vocabulary (256 for bytes)");
  v("dim", o.dim, "model width");
  v("depth", o.depth, "layers");
  v("heads", o.heads, "attention heads (dim / heads must be even for RoPE)");
  v("mlp_hidden", o.mlp_hidden, "SwiGLU hidden width; 0: 8/3 * dim rounded up to a multiple of 8");
  v("window", o.window, "MAG/MAL sliding-window attention: keys at most this many tokens back (-1: full causal)");
  v("segment", o.segment, "MAC segment length C (a multiple of memory_chunk_size)");
  v("persistent_tokens", o.persistent_tokens, "N_p learnable tokens prepended to each layer's attention");
  v("memory_layers", o.memory_layers, "indices of the layers with a neural memory; empty: all");
  v("tie_embeddings", o.tie_embeddings, "logits through the embedding matrix instead of a separate head");
  v("rope_base", o.rope_base, "rotary embedding base");
  v("norm_eps", o.norm_eps, "RMSNorm epsilon");
  visit_memory_options(o.memory, v, "memory_");
}

void validate_options(const TitansOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1");
  if (o.dim < 1) throw OptionError("dim", "an integer >= 1");
  if (o.depth < 0) throw OptionError("depth", "an integer >= 0");
  if (o.heads < 1 || o.dim % o.heads != 0 || (o.dim / o.heads) % 2 != 0)
    throw OptionError("heads", "a divisor of dim leaving an even head size (dim " + std::to_string(o.dim) + ")");
  if (o.persistent_tokens < 0) throw OptionError("persistent_tokens", "an integer >= 0");
  if (o.segment < 1) throw OptionError("segment", "an integer >= 1");
  if (o.mlp_hidden < 0) throw OptionError("mlp_hidden", "an integer >= 0");
  for (int64_t i : o.memory_layers)
    if (i < 0 || i >= o.depth) throw OptionError("memory_layers", "layer indices in [0, " + std::to_string(o.depth) + ")");
  validate_memory_options(o.memory, o.dim, "memory_");
  if (o.variant == "mac" && o.segment % o.memory.chunk_size != 0)
    throw OptionError("segment", "a multiple of memory_chunk_size = " + std::to_string(o.memory.chunk_size) +
                                     " (segments are written whole chunks at a time)");
}

namespace {
ModulePtr make_titans(TitansOptions o, const char* variant) {
  o.variant = variant;
  return std::make_shared<TitansLM>(o);
}
const bool registered = [] {
  models().add("titans_mac", TitansOptions{.variant = "mac"}, [](const TitansOptions& o) { return make_titans(o, "mac"); },
               "Titans memory as context: segment attention over [persistent || memory read || segment]");
  models().add("titans_mag", TitansOptions{.variant = "mag"}, [](const TitansOptions& o) { return make_titans(o, "mag"); },
               "Titans memory as gate: sliding-window attention gated by the neural memory");
  models().add("titans_mal", TitansOptions{.variant = "mal"}, [](const TitansOptions& o) { return make_titans(o, "mal"); },
               "Titans memory as layer: neural memory, then sliding-window attention");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
