#include "nn/titans/neural_memory.h"

#include <cmath>
#include <deque>
#include <stdexcept>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/memory_update.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/silu_backward.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/init.h"
#include "nn/registry.h"

namespace tessera::nn {

void visit_options(NeuralMemoryOptions& o, OptionVisitor& v) {
  v("dim", o.dim, "model width (input and output of the layer)");
  v("heads", o.heads, "memory heads, each an MLP over dim / heads features");
  v("depth", o.depth, "layers of the memory MLP (L_M; 1 = linear memory)");
  v("expansion", o.expansion, "hidden width of a deep memory, in multiples of the head width");
  v("chunk_size", o.chunk_size, "tokens whose inner gradients share the chunk-start weights (paper 3.2)");
  v("momentum", o.momentum, "surprise with momentum (false: eta = 0)");
  v("weight_decay", o.weight_decay, "forgetting gate (false: alpha = 0)");
  v.choice("gates", o.gates, {"token", "chunk"}, "eta and alpha per token or from the chunk-mean input");
  v("max_lr", o.max_lr, "theta = max_lr * sigmoid(Linear(x))");
  v("conv_kernel", o.conv_kernel, "causal depthwise conv width after the q/k/v projections (0: none)");
  v.choice("inner_grad", o.inner_grad, {"closed_form", "autograd"},
           "inner gradient by explicit formulas or by autograd with create_graph");
}

void validate_options(const NeuralMemoryOptions& o) {
  if (o.dim < 1) throw OptionError("dim", "an integer >= 1");
  if (o.heads < 1 || o.dim % o.heads != 0)
    throw OptionError("heads", "a divisor of dim = " + std::to_string(o.dim));
  if (o.depth < 1) throw OptionError("depth", "an integer >= 1");
  if (o.expansion < 1) throw OptionError("expansion", "an integer >= 1");
  if (o.chunk_size < 1) throw OptionError("chunk_size", "an integer >= 1");
  if (!(o.max_lr > 0) || !std::isfinite(o.max_lr)) throw OptionError("max_lr", "a finite value > 0");
  if (o.conv_kernel < 0) throw OptionError("conv_kernel", "an integer >= 0");
  if (o.gates != "token" && o.gates != "chunk") throw OptionError("gates", "one of token|chunk");
  if (o.inner_grad != "closed_form" && o.inner_grad != "autograd")
    throw OptionError("inner_grad", "one of closed_form|autograd");
}

namespace {
// Forwards every key but dim under prefix + key. Names live in a deque so the const char* handed
// on stays valid while the visitor does.
class PrefixVisitor : public OptionVisitor {
 public:
  PrefixVisitor(OptionVisitor& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
  void operator()(const char* k, double& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, int64_t& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, bool& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, std::string& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, std::vector<double>& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, std::vector<int64_t>& v, const char* d) override { if (keep(k)) inner_(name(k), v, d); }
  void operator()(const char* k, std::vector<std::string>& v, const char* d) override {
    if (keep(k)) inner_(name(k), v, d);
  }
  void choice(const char* k, std::string& v, const std::vector<std::string>& c, const char* d) override {
    if (keep(k)) inner_.choice(name(k), v, c, d);
  }
  void require(const char* k) override { if (keep(k)) inner_.require(name(k)); }

 private:
  static bool keep(const char* k) { return std::string(k) != "dim"; }
  const char* name(const char* k) { return names_.emplace_back(prefix_ + k).c_str(); }
  OptionVisitor& inner_;
  std::string prefix_;
  std::deque<std::string> names_;
};
}  // namespace

void visit_memory_options(NeuralMemoryOptions& o, OptionVisitor& v, const std::string& prefix) {
  PrefixVisitor pv(v, prefix);
  visit_options(o, pv);
}

void validate_memory_options(NeuralMemoryOptions o, int64_t dim, const std::string& prefix) {
  o.dim = dim;
  try {
    validate_options(o);
  } catch (const OptionError& e) {
    throw OptionError(e.key() == "dim" ? e.key() : prefix + e.key(), e.expected());  // dim is the model's key
  }
}

NeuralMemory::NeuralMemory(NeuralMemoryOptions o) : o_(std::move(o)) {
  validate_options(o_);
  const int64_t D = o_.dim, H = o_.heads, d = head_dim(), hid = o_.expansion * d;
  to_q = register_module("to_q", std::make_shared<Linear>(D, D, LinearOptions{.bias = false}));
  to_k = register_module("to_k", std::make_shared<Linear>(D, D, LinearOptions{.bias = false}));
  to_v = register_module("to_v", std::make_shared<Linear>(D, D, LinearOptions{.bias = false}));
  if (o_.conv_kernel > 0) {
    conv_q = register_module("conv_q", std::make_shared<CausalConv1d>(D, o_.conv_kernel));
    conv_k = register_module("conv_k", std::make_shared<CausalConv1d>(D, o_.conv_kernel));
    conv_v = register_module("conv_v", std::make_shared<CausalConv1d>(D, o_.conv_kernel));
  }
  to_theta = register_module("to_theta", std::make_shared<Linear>(D, H));
  if (o_.momentum) to_eta = register_module("to_eta", std::make_shared<Linear>(D, H));
  if (o_.weight_decay) {
    to_alpha = register_module("to_alpha", std::make_shared<Linear>(D, H));
    // sigmoid(0) = 0.5 would forget half the memory per token; start near alpha = 0.018.
    init::constant_(to_alpha->bias, -4.0);
  }
  for (int64_t l = 0; l < o_.depth; ++l) {
    const int64_t in = l == 0 ? d : hid, out = l == o_.depth - 1 ? d : hid;
    Tensor w = empty({H, out, in});
    const double bound = 1.0 / std::sqrt(double(in));  // as a Linear(in, out) layer
    init::uniform_(w, -bound, bound);
    init_weights.push_back(register_parameter("init_w" + std::to_string(l), w));
  }
  // A fixed eps (not the dtype's machine epsilon): float32 and float64 then agree on small reads.
  out_norm = register_module("out_norm", std::make_shared<RMSNorm>(d, 1e-6));
  to_gate = register_module("to_gate", std::make_shared<Linear>(D, D));
  to_out = register_module("to_out", std::make_shared<Linear>(D, D, LinearOptions{.bias = false}));
}

std::string NeuralMemory::extra_repr() const {
  return "dim=" + std::to_string(o_.dim) + ", heads=" + std::to_string(o_.heads) + ", depth=" +
         std::to_string(o_.depth) + ", chunk_size=" + std::to_string(o_.chunk_size) + ", gates=" + o_.gates +
         ", inner_grad=" + o_.inner_grad;
}

MemoryState NeuralMemory::initial_state(int64_t batch) const {
  if (batch < 1) throw std::invalid_argument("NeuralMemory::initial_state: batch must be >= 1");
  MemoryState s;
  for (const Tensor& w0 : init_weights) {
    const Shape& ws = w0.shape();  // [H, out, in]
    // A copy per sequence, differentiable back to M_0.
    s.weights.push_back(reshape(expand(unsqueeze(w0, 0), {batch, ws[0], ws[1], ws[2]}), {batch * ws[0], ws[1], ws[2]}));
    s.momentum.push_back(zeros({batch * ws[0], ws[1], ws[2]}, {.dtype = w0.dtype()}));
  }
  return s;
}

Tensor NeuralMemory::to_heads(const Tensor& t) const {
  const int64_t B = t.shape()[0], T = t.shape()[1], H = o_.heads, d = head_dim();
  return reshape(permute(view(t, {B, T, H, d}), {0, 2, 1, 3}), {B * H, T, d});
}

Tensor NeuralMemory::gate_logits(const std::shared_ptr<Linear>& lin, const Tensor& x, bool per_chunk) const {
  const int64_t B = x.shape()[0], T = x.shape()[1], H = o_.heads, c = o_.chunk_size;
  Tensor z;
  if (!per_chunk) {
    z = lin->forward(x);  // [B, T, H]
  } else {
    // One value per chunk from its mean input, repeated over the chunk's tokens. Chunks are
    // aligned with the start of x, as the writes are; the last one may be shorter.
    TensorList parts;
    for (int64_t s = 0; s < T; s += c) {
      const int64_t len = std::min(c, T - s);
      Tensor zc = lin->forward(mean(narrow(x, 1, s, len), {1}, true));  // [B, 1, H]
      parts.push_back(expand(zc, {B, len, H}));
    }
    z = parts.size() == 1 ? parts[0] : cat(parts, 1);
  }
  return reshape(permute(z, {0, 2, 1}), {B * H, T});
}

MemoryInputs NeuralMemory::inputs(const Tensor& x, const MemoryState& state) const {
  if (x.dim() != 3 || x.shape()[2] != o_.dim)
    throw std::invalid_argument("NeuralMemory: expected x [B, T, " + std::to_string(o_.dim) + "], got " +
                                shape_str(x.shape()));
  auto branch = [&](const std::shared_ptr<Linear>& lin, const std::shared_ptr<CausalConv1d>& conv,
                    const Tensor& history) {
    Tensor p = lin->forward(x);
    if (conv) p = conv->forward(p, history);
    return to_heads(silu(p));
  };
  // F.normalize: x / max(||x||, 1e-12) over the head's features.
  auto l2 = [](const Tensor& t) { return div(t, clamp_min(norm(t, 2, {-1}, true), 1e-12)); };
  MemoryInputs in;
  in.q = l2(branch(to_q, conv_q, state.conv_q));
  in.k = l2(branch(to_k, conv_k, state.conv_k));
  in.v = branch(to_v, conv_v, state.conv_v);
  const bool per_chunk = o_.gates == "chunk";
  in.theta = mul(sigmoid(gate_logits(to_theta, x, false)), o_.max_lr);
  // Logs straight from the logits: log sigmoid(z) = -softplus(-z) stays finite where sigmoid
  // underflows, and the chunk products below are exponentials of their cumulative sums.
  if (o_.momentum) in.log_eta = neg(softplus(neg(gate_logits(to_eta, x, per_chunk))));
  if (o_.weight_decay) in.log_keep = neg(softplus(gate_logits(to_alpha, x, per_chunk)));
  return in;
}

Tensor NeuralMemory::apply_memory(const std::vector<Tensor>& w, const Tensor& keys) const {
  Tensor h = keys;
  for (size_t l = 0; l < w.size(); ++l) {
    h = bmm(h, transpose(w[l], 1, 2));
    if (l + 1 < w.size()) h = silu(h);
  }
  return h;
}

Tensor NeuralMemory::output(const Tensor& r, const Tensor& x) const {
  const int64_t B = x.shape()[0], T = x.shape()[1], H = o_.heads, d = head_dim();
  Tensor y = out_norm->forward(view(r, {B, H, T, d}));
  y = reshape(permute(y, {0, 2, 1, 3}), {B, T, o_.dim});
  return to_out->forward(mul(y, sigmoid(to_gate->forward(x))));
}

namespace {

// Per-token weights of one chunk's closed-form write (paper 3.2, digest's notation), all from the
// chunk's gates: with P_t = prod_{j<=t} eta_j and beta_t = prod_{j<=t} (1 - alpha_j) over the chunk,
//   S_b = P_b S_0 - sum_i theta_i (P_b / P_i) u_i                             -> w_s
//   M_b = beta_b M_0 + (sum_t (beta_b / beta_t) P_t) S_0 - sum_i theta_i c_i u_i -> w_m, s0_into_m
//   c_i = sum_{t >= i} (beta_b / beta_t) (P_t / P_i).
// Ratios of products are exponentials of differences of log cumulative sums, never divisions.
struct ChunkCoefficients {
  Tensor w_s, w_m;  // [N, c]
  Tensor decay_m;   // beta_b [N, 1, 1]
  Tensor decay_s;   // P_b [N, 1, 1] (undefined without momentum)
  Tensor s0_into_m; // [N, 1, 1] (undefined without momentum)
};

ChunkCoefficients chunk_coefficients(const MemoryInputs& in) {
  const int64_t N = in.theta.shape()[0], c = in.theta.shape()[1];
  ChunkCoefficients r;
  Tensor lb = in.log_keep.defined() ? cumsum(in.log_keep, 1) : zeros({N, c}, {.dtype = in.theta.dtype()});
  Tensor lb_end = narrow(lb, 1, c - 1, 1);  // log beta_b, [N, 1]
  Tensor to_end = sub(lb_end, lb);          // log(beta_b / beta_t)
  r.decay_m = view(exp(lb_end), {N, 1, 1});
  if (!in.log_eta.defined()) {
    // eta = 0: S_t = -theta_t u_t, so M_b = beta_b M_0 - sum_t (beta_b / beta_t) theta_t u_t and only
    // the last token's surprise survives in S_b.
    r.w_m = mul(in.theta, exp(to_end));
    r.w_s = mul(in.theta, pad(ones({1}, {.dtype = in.theta.dtype()}), {c - 1, 0}));  // [0 ... 0 1]
    return r;
  }
  Tensor lp = cumsum(in.log_eta, 1);        // log P_t
  Tensor lp_end = narrow(lp, 1, c - 1, 1);
  r.decay_s = view(exp(lp_end), {N, 1, 1});
  r.w_s = mul(in.theta, exp(sub(lp_end, lp)));
  r.s0_into_m = view(sum(exp(add(to_end, lp)), {1}), {N, 1, 1});
  // e[t, i] = log((beta_b / beta_t)(P_t / P_i)) for t >= i; c_i sums exp over t.
  Tensor e = sub(unsqueeze(add(to_end, lp), 2), unsqueeze(lp, 1));  // [N, t, i]
  Tensor future = triu(ones({c, c}, {.dtype = DType::Bool}), 1);     // i > t: not part of c_i
  r.w_m = mul(in.theta, sum(exp(masked_fill(e, future, -INFINITY)), {1}));
  return r;
}

// One chunk's write given its coefficients (see NeuralMemory::write_chunk).
void write_with(const NeuralMemory& mem, const MemoryInputs& in, const ChunkCoefficients& co, std::vector<Tensor>& W,
                std::vector<Tensor>& S, Tensor* read) {
  const size_t L = W.size();
  const int64_t c = in.k.shape()[1];
  const bool with_s = co.decay_s.defined();  // momentum tracked
  std::vector<Tensor> G_s(L), G_m(L);        // sum_i w_i u_i per layer
  if (mem.options().inner_grad == "closed_form") {
    // Forward of the chunk's keys (and queries, when reading) at the chunk-start weights, keeping
    // each layer's input h and pre-activation a for the backward.
    Tensor h = read ? cat({in.k, in.q}, 1) : in.k;
    std::vector<Tensor> hs, as;
    for (size_t l = 0; l < L; ++l) {
      hs.push_back(read ? narrow(h, 1, 0, c) : h);
      Tensor a = bmm(h, transpose(W[l], 1, 2));
      as.push_back(read ? narrow(a, 1, 0, c) : a);
      h = l + 1 < L ? silu(a) : a;
    }
    if (read) *read = narrow(h, 1, c, h.shape()[1] - c);
    // Per-token d l / d (memory output) for l = ||y - v||^2 / head_dim, then back through the layers:
    // layer l's gradient for token i is delta_i h_i^T, so sum_i w_i delta_i h_i^T is ONE batched
    // matmul [N, out, c] x [N, c, in] with the per-token weights folded into delta (both sums, for
    // S and for M, stacked along out).
    Tensor delta = mul(sub(as.back(), in.v), 2.0 / double(mem.head_dim()));
    for (size_t l = L; l-- > 0;) {
      const int64_t out = delta.shape()[2];
      Tensor wd = mul(delta, unsqueeze(co.w_m, -1));
      if (with_s) wd = cat({wd, mul(delta, unsqueeze(co.w_s, -1))}, 2);
      Tensor G = bmm(transpose(wd, 1, 2), hs[l]);  // [N, out or 2 out, in]
      G_m[l] = with_s ? narrow(G, 1, 0, out) : G;
      if (with_s) G_s[l] = narrow(G, 1, out, out);
      if (l > 0) delta = silu_backward(bmm(delta, W[l]), as[l - 1]);  // fused delta * SiLU'(a)
    }
  } else {
    if (read) *read = mem.apply_memory(W, in.q);
    // autograd::grad of the weighted chunk loss sum_i w_i l_i at the chunk-start weights. Under
    // no-grad (evaluation) the inner graph is built locally and its result is a constant.
    const bool outer = GradMode::is_enabled();
    EnableGradGuard on(true);
    std::vector<Tensor> w0(L);
    for (size_t l = 0; l < L; ++l) {
      w0[l] = W[l];
      if (!outer || !w0[l].requires_grad()) w0[l] = W[l].detach().set_requires_grad(true);
    }
    Tensor y = mem.apply_memory(w0, in.k);
    Tensor loss = div(sum(square(sub(y, in.v)), {-1}), double(mem.head_dim()));  // l_i, [N, c]
    TensorList g_m = grad({sum(mul(loss, co.w_m))}, w0, {}, {.retain_graph = true, .create_graph = outer});
    TensorList g_s;
    if (with_s) g_s = grad({sum(mul(loss, co.w_s))}, w0, {}, {.retain_graph = true, .create_graph = outer});
    for (size_t l = 0; l < L; ++l) {
      G_m[l] = outer ? g_m[l] : g_m[l].detach();
      if (with_s) G_s[l] = outer ? g_s[l] : g_s[l].detach();
    }
  }
  // M_b = beta_b M_0 + s_b S_0 - G_m and S_b = P_b S_0 - G_s, each one fused pass over the weights.
  for (size_t l = 0; l < L; ++l) {
    const bool s0 = co.s0_into_m.defined();
    W[l] = memory_update(W[l], co.decay_m, s0 ? S[l] : Tensor(), co.s0_into_m, G_m[l]);
    if (with_s) S[l] = memory_update(S[l], co.decay_s, Tensor(), Tensor(), G_s[l]);
  }
}

// The per-token inputs cut into chunks aligned with the start, with every chunk's coefficients.
// Both are computed for all chunks at once (the gates do not depend on the memory) and handed out
// with split_copy, one autograd node per tensor: slicing views per chunk would cost a zero tensor
// of the whole sequence per chunk in backward, quadratic in T.
struct Chunks {
  std::vector<MemoryInputs> inputs;
  std::vector<ChunkCoefficients> coefficients;
};

Chunks split_chunks(const MemoryInputs& in, int64_t c) {
  const int64_t N = in.theta.shape()[0], T = in.theta.shape()[1], nf = T / c, rem = T % c;
  const size_t n = size_t(nf + (rem > 0));
  Chunks r;
  r.inputs.resize(n);
  auto cut = [&](const Tensor& t, Tensor MemoryInputs::*field) {
    if (!t.defined()) return;
    TensorList p = split_copy(t, c, 1);
    for (size_t i = 0; i < n; ++i) r.inputs[i].*field = p[i];
  };
  cut(in.q, &MemoryInputs::q);
  cut(in.k, &MemoryInputs::k);
  cut(in.v, &MemoryInputs::v);
  cut(in.theta, &MemoryInputs::theta);
  cut(in.log_eta, &MemoryInputs::log_eta);
  cut(in.log_keep, &MemoryInputs::log_keep);
  if (nf > 0) {
    // The whole chunks as rows [N * nf, c] (row n * nf + j: sequence-head n, chunk j).
    auto rows = [&](const Tensor& t) { return t.defined() ? reshape(narrow(t, 1, 0, nf * c), {N * nf, c}) : Tensor(); };
    MemoryInputs full;
    full.theta = rows(in.theta);
    full.log_eta = rows(in.log_eta);
    full.log_keep = rows(in.log_keep);
    ChunkCoefficients co = chunk_coefficients(full);
    // Back to one [N, ...] piece per chunk.
    auto per_chunk = [&](const Tensor& t, const Shape& piece, Tensor ChunkCoefficients::*field) {
      if (!t.defined()) return;
      TensorList p = split_copy(reshape(t, {N, nf, -1}), 1, 1);
      for (int64_t j = 0; j < nf; ++j) r.coefficients[size_t(j)].*field = view(p[size_t(j)], piece);
    };
    r.coefficients.resize(n);
    per_chunk(co.w_s, {N, c}, &ChunkCoefficients::w_s);
    per_chunk(co.w_m, {N, c}, &ChunkCoefficients::w_m);
    per_chunk(co.decay_m, {N, 1, 1}, &ChunkCoefficients::decay_m);
    per_chunk(co.decay_s, {N, 1, 1}, &ChunkCoefficients::decay_s);
    per_chunk(co.s0_into_m, {N, 1, 1}, &ChunkCoefficients::s0_into_m);
  }
  r.coefficients.resize(n);
  if (rem > 0) r.coefficients.back() = chunk_coefficients(r.inputs.back());
  return r;
}

}  // namespace

void NeuralMemory::write_chunk(const MemoryInputs& in, std::vector<Tensor>& W, std::vector<Tensor>& S,
                               Tensor* read) const {
  write_with(*this, in, chunk_coefficients(in), W, S, read);
}

Tensor NeuralMemory::retrieve(const Tensor& x, const MemoryState& state) const {
  if (x.dim() != 3) throw std::invalid_argument("NeuralMemory::retrieve: expected x [B, T, dim], got " + shape_str(x.shape()));
  MemoryState init;
  const MemoryState& st = state.defined() ? state : (init = initial_state(x.shape()[0]));
  MemoryInputs in = inputs(x, st);
  return output(apply_memory(st.weights, in.q), x);
}

MemoryState NeuralMemory::update(const Tensor& x, const MemoryState& state) const {
  if (x.dim() != 3) throw std::invalid_argument("NeuralMemory::update: expected x [B, T, dim], got " + shape_str(x.shape()));
  MemoryState s = state.defined() ? state : initial_state(x.shape()[0]);
  MemoryInputs in = inputs(x, s);
  const int64_t T = x.shape()[1];
  Chunks ch = split_chunks(in, o_.chunk_size);
  for (size_t i = 0; i < ch.inputs.size(); ++i)
    write_with(*this, ch.inputs[i], ch.coefficients[i], s.weights, s.momentum, nullptr);
  if (conv_k) {
    s.conv_k = conv_k->next_history(to_k->forward(x), s.conv_k);
    s.conv_v = conv_v->next_history(to_v->forward(x), s.conv_v);
  }
  s.tokens_seen += T;
  return s;
}

void NeuralMemory::advance_query_conv(const Tensor& x, MemoryState& state) const {
  if (conv_q) state.conv_q = conv_q->next_history(to_q->forward(x), state.conv_q);
}

Tensor NeuralMemory::forward(const Tensor& x, MemoryState* state) {
  if (x.dim() != 3) throw std::invalid_argument("NeuralMemory: expected x [B, T, dim], got " + shape_str(x.shape()));
  MemoryState s = state && state->defined() ? *state : initial_state(x.shape()[0]);
  if (s.weights.size() != init_weights.size() || s.weights[0].shape()[0] != x.shape()[0] * o_.heads)
    throw std::invalid_argument("NeuralMemory: the state holds " + std::to_string(s.weights.size()) +
                                " layers for " + std::to_string(s.weights.empty() ? 0 : s.weights[0].shape()[0]) +
                                " sequence-heads; x " + shape_str(x.shape()) + " needs " +
                                std::to_string(init_weights.size()) + " layers for " +
                                std::to_string(x.shape()[0] * o_.heads));
  MemoryInputs in = inputs(x, s);
  const int64_t T = x.shape()[1];
  Chunks ch = split_chunks(in, o_.chunk_size);
  TensorList reads(ch.inputs.size());
  for (size_t i = 0; i < ch.inputs.size(); ++i)
    write_with(*this, ch.inputs[i], ch.coefficients[i], s.weights, s.momentum, &reads[i]);
  Tensor y = output(reads.size() == 1 ? reads[0] : cat(reads, 1), x);
  if (state) {
    if (conv_q) {
      s.conv_q = conv_q->next_history(to_q->forward(x), s.conv_q);
      s.conv_k = conv_k->next_history(to_k->forward(x), s.conv_k);
      s.conv_v = conv_v->next_history(to_v->forward(x), s.conv_v);
    }
    s.tokens_seen += T;
    *state = std::move(s);
  }
  return y;
}

}  // namespace tessera::nn
