#include "nn/hard_attention_gate.h"

#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/init.h"

namespace tessera::nn {

HardAttentionGate::HardAttentionGate(int64_t channels, HardAttentionGateOptions o) : channels_(channels), o_(std::move(o)) {
  if (channels <= 0) throw std::invalid_argument("HardAttentionGate: channels must be positive, got " + std::to_string(channels));
  if (o_.init != "xavier" && o_.init != "he")
    throw std::invalid_argument("HardAttentionGate: init must be 'xavier' or 'he', got '" + o_.init + "'");
  if (!is_floating(o_.dtype)) throw std::invalid_argument("HardAttentionGate: dtype must be floating");
  fsag = register_parameter("fsag", empty({channels}, {.dtype = o_.dtype}));
  reset_parameters();
}

void HardAttentionGate::reset_parameters(Generator* gen) {
  // The reference initialises a (1, C) tensor: fan_in = C, fan_out = 1.
  Tensor row = fsag.detach().as_strided({1, channels_}, {channels_, 1}, fsag.storage_offset());
  if (o_.init == "xavier")
    init::xavier_normal_(row, 1.0, gen);
  else
    init::kaiming_normal_(row, 0.0, "fan_in", "relu", gen);
}

std::string HardAttentionGate::extra_repr() const {
  std::string s = "channels=" + std::to_string(channels_) + ", channel_dim=" + std::to_string(o_.channel_dim) +
                  ", init=" + o_.init;
  if (o_.eval_threshold > 0) s += ", eval_threshold=" + std::to_string(o_.eval_threshold);
  return s;
}

Tensor HardAttentionGate::gate_values() const { return sigmoid(fsag); }

Tensor HardAttentionGate::forward(const Tensor& x) {
  const int64_t nd = x.dim();
  const int64_t d = o_.channel_dim < 0 ? o_.channel_dim + nd : o_.channel_dim;
  if (nd == 0 || d < 0 || d >= nd)
    throw std::invalid_argument("HardAttentionGate: channel_dim " + std::to_string(o_.channel_dim) +
                                " out of range for input " + shape_str(x.shape()));
  if (x.size(d) != channels_)
    throw std::invalid_argument("HardAttentionGate: input " + shape_str(x.shape()) + " has " + std::to_string(x.size(d)) +
                                " channels on dim " + std::to_string(d) + ", expected " + std::to_string(channels_));
  Tensor g = gate_values();
  if (!is_training() && o_.eval_threshold > 0) g = where(ge(g, o_.eval_threshold), g, 0.0);
  Shape bshape(size_t(nd - d), 1);
  bshape[0] = channels_;
  return mul(x, reshape(g, bshape));
}

Tensor HardAttentionGate::sparsity_penalty(const std::string& kind) const {
  Tensor g = gate_values();
  if (kind == "l1") return sum(g);
  if (kind == "entropy") {
    // -g log g - (1 - g) log(1 - g); the logs see g clamped at 1e-12 so saturated gates stay finite.
    Tensor one_minus = rsub(g, 1.0);
    Tensor h = add(mul(g, log(clamp_min(g, 1e-12))), mul(one_minus, log(clamp_min(one_minus, 1e-12))));
    return neg(mean(h));
  }
  throw std::invalid_argument("HardAttentionGate::sparsity_penalty: kind must be 'l1' or 'entropy', got '" + kind + "'");
}

bool is_gate_parameter(const std::string& name) { return name.find(kGateParameterTag) != std::string::npos; }

std::pair<std::vector<std::pair<std::string, Tensor>>, std::vector<std::pair<std::string, Tensor>>>
split_gate_parameters(const Module& m) {
  std::pair<std::vector<std::pair<std::string, Tensor>>, std::vector<std::pair<std::string, Tensor>>> out;
  for (auto& [name, p] : m.named_parameters()) (is_gate_parameter(name) ? out.first : out.second).emplace_back(name, p);
  return out;
}

}  // namespace tessera::nn
