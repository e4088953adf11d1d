#include "autograd/ops/attention.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "autograd/autocast.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/copy.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::save_output;
using autograd::set_history;

Tensor attention_probs(const Tensor& q, const Tensor& k, const FlashAttentionOptions& o) {
  if (q.dim() != 4 || k.dim() != 4 || q.shape()[0] != k.shape()[0] || q.shape()[1] != k.shape()[1] ||
      q.shape()[3] != k.shape()[3])
    throw std::invalid_argument("attention: expected q [B, H, T, d] and k [B, H, S, d], got " + shape_str(q.shape()) +
                                " and " + shape_str(k.shape()));
  const int64_t B = q.shape()[0], T = q.shape()[2], S = k.shape()[2];
  const double sc = o.scale.value_or(1.0 / std::sqrt(double(q.shape()[3])));
  Tensor s = matmul(mul(q, sc), transpose(k, -2, -1));  // [B, H, T, S], q scaled first (as timm)
  if (o.attn_bias.defined()) s = add(s, o.attn_bias);
  Tensor fully;
  Tensor mask = kernels::attention_mask(o, B, T, S, &fully);
  if (mask.defined()) s = masked_fill(s, mask, -INFINITY);
  Tensor p = softmax(s, -1);
  if (fully.defined()) p = masked_fill(p, fully, 0.0);
  return p;
}

namespace {

// d out / d (q, k, v, bias) with differentiable ops (used only under create_graph).
TensorList composite_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v,
                              const FlashAttentionOptions& o, const Node& n) {
  const double sc = o.scale.value_or(1.0 / std::sqrt(double(q.shape()[3])));
  Tensor p = attention_probs(q, k, o);
  Tensor dp = matmul(g, transpose(v, -2, -1));
  Tensor ds = mul(p, sub(dp, sum(mul(dp, p), {-1}, true)));  // softmax backward
  TensorList r(o.attn_bias.defined() ? 4 : 3);
  if (n.needs_input_grad(0)) r[0] = mul(matmul(ds, k), sc);
  if (n.needs_input_grad(1)) r[1] = mul(matmul(transpose(ds, -2, -1), q), sc);
  if (n.needs_input_grad(2)) r[2] = matmul(transpose(p, -2, -1), g);
  if (r.size() == 4 && n.needs_input_grad(3)) r[3] = sum_to(ds, o.attn_bias.shape());
  return r;
}

}  // namespace

namespace {
std::atomic<bool>& autocast_setting() {
  static std::atomic<bool> on = [] {
    const char* e = std::getenv("TESSERA_ATTENTION_AUTOCAST");
    return e && std::string(e) == "bf16";
  }();
  return on;
}
}  // namespace

void set_flash_attention_autocast(bool on) { autocast_setting().store(on); }
bool flash_attention_autocast() { return autocast_setting().load(); }

// out = P v with P = softmax(S), S = scale q k^T + bias:
//   dv = P^T g, dP = g v^T, dS = P (dP - rowsum(g * out)), dq = scale dS k, dk = scale dS^T q, dbias = dS.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FlashAttentionOptions& o) {
  if (autocast::lower_precision_operands({q, k, v})) {
    if (flash_attention_autocast()) {
      // On autocast's lower-precision list (TESSERA_ATTENTION_AUTOCAST=bf16): bf16 in, bf16 out.
      const Tensor qc = autocast::cast(q), kc = autocast::cast(k), vc = autocast::cast(v);
      AutocastGuard off(false);  // the inner call runs the kernel on the bf16 operands
      return flash_attention(qc, kc, vc, o);
    }
    // By default attention does not cast its operands: bf16 q, k, v from autocast's projections
    // are read in place (float32 softmax and accumulation in the kernel) and give a bf16 output,
    // as torch's SDPA does for bf16 tensors, in the [B, T, H, Dv] layout that merges heads without a
    // copy; float32 ones stay float32; a mix of bf16 and float32 is widened here.
    const bool all_bf16 = q.dtype() == DType::BFloat16 && k.dtype() == DType::BFloat16 && v.dtype() == DType::BFloat16;
    if (!all_bf16 && (q.dtype() != DType::Float32 || k.dtype() != DType::Float32 || v.dtype() != DType::Float32)) {
      AutocastGuard off(false);
      return flash_attention(to(q, DType::Float32), to(k, DType::Float32), to(v, DType::Float32), o);
    }
  }
  kernels::AttentionForward fw = kernels::attention_forward(q, k, v, o);
  const bool has_bias = o.attn_bias.defined();
  TensorList inputs{q, k, v};
  if (has_bias) inputs.push_back(o.attn_bias);
  if (auto node = make_node("FlashAttentionBackward", inputs)) {
    set_history(node, {fw.out});
    FlashAttentionOptions masks = o;
    masks.attn_bias = Tensor();  // saved separately, so an in-place change of it is detected
    node->set_backward([sq = save(q), sk = save(k), sv = save(v), sb = has_bias ? save(o.attn_bias) : autograd::SavedTensor(),
                        so = save_output(fw.out), lse = fw.lse, masks](const TensorList& g, const Node& n) {
      const std::string name = n.name();
      Tensor q = sq.unpack(name), k = sk.unpack(name), v = sv.unpack(name);
      FlashAttentionOptions opts = masks;
      if (sb.defined()) opts.attn_bias = sb.unpack(name);
      TensorList r(sb.defined() ? 4 : 3);
      if (!g[0].defined()) return r;
      if (GradMode::is_enabled()) return composite_backward(g[0], q, k, v, opts, n);
      const bool want_dbias = sb.defined() && n.needs_input_grad(3);
      kernels::AttentionGrads d =
          kernels::attention_backward(q, k, v, so.unpack(name), lse, g[0], opts, want_dbias);
      if (n.needs_input_grad(0)) r[0] = d.dq;
      if (n.needs_input_grad(1)) r[1] = d.dk;
      if (n.needs_input_grad(2)) r[2] = d.dv;
      if (want_dbias) r[3] = kernels::to_dtype(sum_to(d.dscores, opts.attn_bias.shape()), opts.attn_bias.dtype());
      return r;
    });
  }
  return fw.out;
}

}  // namespace tessera
