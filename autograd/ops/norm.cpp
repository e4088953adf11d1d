#include "autograd/ops/norm.h"

#include <limits>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/autocast.h"
#include "autograd/record.h"
#include "core/kernels/norm.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

// How one normalisation layer sees its input: x is viewed as `view`, statistics are taken over
// `red` (dims of view, kept as size 1 -> `stat_shape`), and weight/bias broadcast as `wview`
// against x, their gradients summing over `wred` (dims of x).
struct NormSpec {
  enum class Kind { Layer, Rms, Group, Batch } kind = Kind::Layer;
  int64_t cols = 0;    // Layer/Rms: normalized elements per row
  int64_t groups = 0;  // Group
  Shape view;
  std::vector<int64_t> red;
  Shape stat_shape;
  Shape wview;
  std::vector<int64_t> wred;
  bool center = true;      // subtract the mean (false: RMS norm)
  bool const_stats = false;  // statistics do not depend on x (batch norm in eval mode)
  double eps = 0;
};

Tensor sum_over(const Tensor& t, const std::vector<int64_t>& dims) { return dims.empty() ? t : sum(t, dims); }

// Gradients of y = xhat * w + b with xhat = (x - mean) * rstd (or x * rstd), w.r.t. x, w, b.
// Without create_graph a fused kernel does the work with the forward's statistics. Under
// create_graph the gradients are built from differentiable ops, recomputing the statistics from x,
// so that they can be differentiated again w.r.t. x, weight, bias and g.
TensorList norm_backward(const NormSpec& s, const Tensor& g, const Tensor& x, const Tensor& w, const Shape& wshape,
                         const Shape& bshape, const Tensor& mean_c, const Tensor& rstd_c, bool nx, bool nw, bool nb) {
  Tensor gx, gw, gb;
  if (!GradMode::is_enabled()) {
    // Plain backward (no create_graph): one fused kernel with the forward's statistics.
    kernels::NormGrads r;
    using K = NormSpec::Kind;
    switch (s.kind) {
      case K::Layer: r = kernels::layer_norm_backward(g, x, s.cols, mean_c, rstd_c, w, nx, nw, nb); break;
      case K::Rms: r = kernels::layer_norm_backward(g, x, s.cols, Tensor(), rstd_c, w, nx, nw, nb); break;
      case K::Group: r = kernels::group_norm_backward(g, x, s.groups, mean_c, rstd_c, w, nx, nw, nb); break;
      case K::Batch: r = kernels::batch_norm_backward(g, x, mean_c, rstd_c, w, !s.const_stats, nx, nw, nb); break;
    }
    if (r.gw.defined()) r.gw = reshape(r.gw, wshape);
    if (r.gb.defined()) r.gb = reshape(r.gb, bshape);
    return {r.gx, r.gw, r.gb};
  }
  if (nb) gb = reshape(sum_over(g, s.wred), bshape);
  if (!nx && !nw) return {gx, gw, gb};
  Tensor mu, rs;
  if (s.const_stats) {
    if (s.center) mu = reshape(mean_c, s.stat_shape);
    rs = reshape(rstd_c, s.stat_shape);
  }
  Tensor xv, xhat_v;
  if (nw || !s.const_stats) {
    xv = reshape(x, s.view);
    if (!rs.defined()) {  // statistics as differentiable functions of x
      Tensor var;
      if (s.center) {
        mu = mean(xv, s.red, true);
        Tensor xc = sub(xv, mu);
        var = mean(mul(xc, xc), s.red, true);
      } else {
        var = mean(mul(xv, xv), s.red, true);
      }
      rs = rsqrt(add(var, s.eps));
    }
    xhat_v = s.center ? mul(sub(xv, mu), rs) : mul(xv, rs);
  }
  if (nw) gw = reshape(sum_over(mul(g, reshape(xhat_v, g.shape())), s.wred), wshape);
  if (nx) {
    Tensor dxhat = w.defined() ? mul(g, reshape(w, s.wview)) : g;
    Tensor dv = reshape(dxhat, s.view);
    Tensor r;
    if (s.const_stats) {
      r = mul(dv, rs);
    } else {
      Tensor proj = mul(xhat_v, mean(mul(dv, xhat_v), s.red, true));
      Tensor inner = s.center ? sub(sub(dv, mean(dv, s.red, true)), proj) : sub(dv, proj);
      r = mul(inner, rs);
    }
    gx = reshape(r, g.shape());
  }
  return {gx, gw, gb};
}

// Records the node of a normalisation layer with inputs (x, weight, bias).
void record_norm(const char* name, const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b, NormSpec spec,
                 const Tensor& mean_c, const Tensor& rstd_c) {
  auto node = make_node(name, {x, w, b});
  if (!node) return;
  set_history(node, {out});
  // x is needed for dw and for dx (except with constant statistics); w only for dx.
  bool need_x = (w.defined() && w.requires_grad()) || (x.requires_grad() && !spec.const_stats);
  SavedTensor sx = need_x ? save(x) : SavedTensor(), sw = (w.defined() && x.requires_grad()) ? save(w) : SavedTensor();
  Shape wshape = w.defined() ? w.shape() : Shape{}, bshape = b.defined() ? b.shape() : Shape{};
  node->set_backward([spec = std::move(spec), sx, sw, wshape, bshape, mean_c, rstd_c](const TensorList& g, const Node& n) {
    Tensor x = sx.defined() ? sx.unpack(n.name()) : Tensor();
    Tensor w = sw.defined() ? sw.unpack(n.name()) : Tensor();
    return norm_backward(spec, g[0], x, w, wshape, bshape, mean_c, rstd_c, n.needs_input_grad(0), n.needs_input_grad(1),
                         n.needs_input_grad(2));
  });
}

void check_trailing(const Tensor& x, const Shape& ns, const char* op) {
  if (ns.empty() || int64_t(ns.size()) > x.dim() ||
      !std::equal(ns.begin(), ns.end(), x.shape().end() - int64_t(ns.size())))
    throw std::invalid_argument(std::string(op) + ": normalized_shape " + shape_str(ns) +
                                " must be non-empty and match the trailing dims of input " + shape_str(x.shape()));
}

void check_param_shape(const Tensor& p, const Shape& want, const char* op, const char* what) {
  if (p.defined() && p.shape() != want)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(p.shape()) + ", expected " +
                                shape_str(want));
}

// Spec for statistics over the trailing k dims (layer_norm / rms_norm).
NormSpec trailing_spec(const Tensor& x, size_t k, bool center, double eps) {
  NormSpec s;
  s.kind = center ? NormSpec::Kind::Layer : NormSpec::Kind::Rms;
  s.view = x.shape();
  s.stat_shape = x.shape();
  int64_t lead = x.dim() - int64_t(k);
  for (int64_t d = lead; d < x.dim(); ++d) {
    s.red.push_back(d);
    s.stat_shape[size_t(d)] = 1;
  }
  s.wview = Shape(x.shape().begin() + lead, x.shape().end());
  s.cols = shape_numel(s.wview);
  for (int64_t d = 0; d < lead; ++d) s.wred.push_back(d);
  s.center = center;
  s.eps = eps;
  return s;
}

// Spec for per-channel parameters of an [N, C, *] input.
void channel_params(NormSpec& s, const Tensor& x) {
  s.wview = Shape(size_t(x.dim() - 1), 1);
  s.wview[0] = x.size(1);
  s.wred.clear();
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) s.wred.push_back(d);
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& ns, const Tensor& weight, const Tensor& bias, double eps) {
  // autocast's float32 list: a bfloat16 input is widened first.
  if (autocast::is_enabled() && x.dtype() == autocast::dtype()) return layer_norm(autocast::to_float32(x), ns, weight, bias, eps);
  check_trailing(x, ns, "layer_norm");
  check_param_shape(weight, ns, "layer_norm", "weight");
  check_param_shape(bias, ns, "layer_norm", "bias");
  Tensor mean_c, rstd_c;
  Tensor out = kernels::layer_norm(x, shape_numel(ns), weight, bias, eps, mean_c, rstd_c);
  record_norm("LayerNormBackward", out, x, weight, bias, trailing_spec(x, ns.size(), true, eps), mean_c, rstd_c);
  return out;
}

AddLayerNormResult add_layer_norm(const Tensor& x, const Tensor& y, const Shape& ns, const Tensor& weight,
                                  const Tensor& bias, double eps, std::optional<DType> out_dtype) {
  check_trailing(x, ns, "add_layer_norm");
  check_param_shape(weight, ns, "add_layer_norm", "weight");
  check_param_shape(bias, ns, "add_layer_norm", "bias");
  const bool has_y = y.defined();
  auto is_f32 = [](const Tensor& t) { return !t.defined() || t.dtype() == DType::Float32; };
  const bool fused = x.dtype() == DType::Float32 && is_f32(weight) && is_f32(bias) &&
                     (!has_y || ((y.dtype() == DType::Float32 || y.dtype() == DType::BFloat16) && y.shape() == x.shape())) &&
                     (!out_dtype || *out_dtype == DType::Float32 || *out_dtype == DType::BFloat16);
  if (!fused) {  // the composition this op stands for
    Tensor s = has_y ? add(x, y) : x;
    Tensor out = layer_norm(s, ns, weight, bias, eps);
    return {s, out_dtype && out.dtype() != *out_dtype ? to(out, *out_dtype) : out};
  }
  Tensor mean_c, rstd_c;
  const int64_t cols = shape_numel(ns);
  kernels::AddLayerNorm r = kernels::add_layer_norm(x, y, cols, weight, bias, eps, out_dtype.value_or(DType::Float32),
                                                    mean_c, rstd_c);
  Tensor s = has_y ? r.sum : x;
  auto node = make_node("AddLayerNormBackward", {x, y, weight, bias});
  if (!node) return {s, r.out};
  // The sum is an output of this node when there is a y; its gradient (the residual stream's) comes
  // in as g[0] and is added into the norm's input gradient.
  set_history(node, has_y ? TensorList{r.sum, r.out} : TensorList{r.out});
  SavedTensor ss = has_y ? autograd::save_output(r.sum) : save(x);
  SavedTensor sw = weight.defined() ? save(weight) : SavedTensor();
  const bool y_bf16 = has_y && y.dtype() == DType::BFloat16;
  node->set_backward([spec = trailing_spec(x, ns.size(), true, eps), ss, sw, has_y, y_bf16, wshape = weight.defined() ? weight.shape() : Shape{},
                      bshape = bias.defined() ? bias.shape() : Shape{}, mean_c, rstd_c](const TensorList& g, const Node& n) {
    // Either gradient may be undefined (accepts_undefined_grads): nothing flowed into that output.
    const Tensor g_sum = has_y ? g[0] : Tensor(), g_out = has_y ? g[1] : g[0];
    const Tensor s = ss.unpack(n.name()), w = sw.defined() ? sw.unpack(n.name()) : Tensor();
    const bool nw = n.needs_input_grad(2), nb = n.needs_input_grad(3);
    Tensor gs, gy, gw, gb;
    if (!g_out.defined()) {  // only the sum was used: the gradient passes through to x and y
      gs = g_sum;
    } else if (!GradMode::is_enabled()) {
      // A bfloat16 y (autocast's branch output) gets its gradient rounded in the same pass.
      const bool y_copy = y_bf16 && n.needs_input_grad(1);
      kernels::NormGrads k =
          kernels::layer_norm_backward(g_out, s, spec.cols, mean_c, rstd_c, w, true, nw, nb, g_sum, y_copy);
      gs = k.gx, gy = k.gx_bf16, gw = k.gw, gb = k.gb;
      if (gw.defined()) gw = reshape(gw, wshape);
      if (gb.defined()) gb = reshape(gb, bshape);
    } else {  // create_graph: the differentiable form
      TensorList d = norm_backward(spec, to(g_out, DType::Float32), s, w, wshape, bshape, mean_c, rstd_c, true, nw, nb);
      gs = g_sum.defined() ? add(g_sum, d[0]) : d[0];
      gw = d[1], gb = d[2];
    }
    if (!gy.defined() && n.needs_input_grad(1)) gy = gs;  // the engine casts it to y's dtype
    return TensorList{gs, gy, gw, gb};
  });
  node->accepts_undefined_grads = true;
  return {s, r.out};
}

Tensor rms_norm(const Tensor& x, const Shape& ns, const Tensor& weight, std::optional<double> eps_in) {
  // autocast's float32 list: a bfloat16 input is widened first.
  if (autocast::is_enabled() && x.dtype() == autocast::dtype()) return rms_norm(autocast::to_float32(x), ns, weight, eps_in);
  check_trailing(x, ns, "rms_norm");
  check_param_shape(weight, ns, "rms_norm", "weight");
  double eps = eps_in ? *eps_in : dispatch_floating(x.dtype(), "rms_norm", [&]<typename T>() {
    if constexpr (std::is_same_v<T, BFloat16>) return 0.0078125;  // torch.finfo(torch.bfloat16).eps
    else return double(std::numeric_limits<T>::epsilon());
  });
  Tensor rstd_c;
  Tensor out = kernels::rms_norm(x, shape_numel(ns), weight, eps, rstd_c);
  record_norm("RmsNormBackward", out, x, weight, Tensor(), trailing_spec(x, ns.size(), false, eps), Tensor(), rstd_c);
  return out;
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  // autocast's float32 list: a bfloat16 input is widened first.
  if (autocast::is_enabled() && x.dtype() == autocast::dtype()) return group_norm(autocast::to_float32(x), num_groups, weight, bias, eps);
  Tensor mean_c, rstd_c;
  Tensor out = kernels::group_norm(x, num_groups, weight, bias, eps, mean_c, rstd_c);  // validates x and groups
  check_param_shape(weight, {x.size(1)}, "group_norm", "weight");
  check_param_shape(bias, {x.size(1)}, "group_norm", "bias");
  NormSpec s;
  s.kind = NormSpec::Kind::Group;
  s.groups = num_groups;
  int64_t ng = x.size(0) * num_groups;
  s.view = {x.size(0), num_groups, ng > 0 ? x.numel() / ng : 0};
  s.red = {2};
  s.stat_shape = {x.size(0), num_groups, 1};
  channel_params(s, x);
  s.eps = eps;
  record_norm("GroupNormBackward", out, x, weight, bias, std::move(s), mean_c, rstd_c);
  return out;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  // Not on autocast's float32 list (as torch on CPU): a bfloat16 input from a bfloat16 convolution
  // is normalised as it is, with float32 weights and statistics, and the output stays bfloat16, so
  // the ReLU and residual add after it move half the bytes.
  if (x.dim() >= 2) {
    check_param_shape(weight, {x.size(1)}, "batch_norm", "weight");
    check_param_shape(bias, {x.size(1)}, "batch_norm", "bias");
  }
  Tensor mean_c, rstd_c;
  Tensor out;
  {
    NoGradGuard ng;  // running statistics are updated without recording
    out = kernels::batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, mean_c, rstd_c);
  }
  NormSpec s;
  s.kind = NormSpec::Kind::Batch;
  s.view = x.shape();
  s.stat_shape = Shape(size_t(x.dim()), 1);
  s.stat_shape[1] = x.size(1);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) s.red.push_back(d);
  channel_params(s, x);
  s.const_stats = !training;
  s.eps = eps;
  record_norm("BatchNormBackward", out, x, weight, bias, std::move(s), mean_c, rstd_c);
  return out;
}

}  // namespace tessera
