#include "autograd/node.h"

#include <atomic>
#include <stdexcept>

#include "autograd/grad_hooks.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/record.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/memory_format.h"

namespace tessera::autograd {

uint64_t next_sequence_nr() {
  static std::atomic<uint64_t> n{0};
  return n++;
}

AccumulateGrad::AccumulateGrad(Tensor v) : variable(std::move(v)) {
  sequence_nr = UINT64_MAX;  // leaves accumulate as soon as their gradient is complete
  outputs.push_back({variable.shape(), variable.dtype()});
  pre_hooks.resize(1);
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  Tensor g = std::move(grads[0]);
  if (!g.defined()) return {};
  Tensor cur = variable.grad();
  if (!cur.defined()) {
    // Steal the buffer when nobody else holds it; otherwise copy, so that later in-place
    // accumulation cannot write into a tensor someone else sees.
    // A channels-last gradient (core/memory_format.h) keeps its layout, as torch's does.
    const bool cl = is_channels_last(g);
    bool sole = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && (g.is_contiguous() || cl);
    Tensor copy;
    if (!GradMode::is_enabled() && !sole) {
      copy = cl ? empty_channels_last(g.shape(), {.dtype = g.dtype()}) : empty(g.shape(), {.dtype = g.dtype()});
      kernels::copy_(copy, g);
    }
    variable.set_grad(GradMode::is_enabled() ? g : (sole ? g.detach() : copy));
  } else if (GradMode::is_enabled()) {
    variable.set_grad(add(cur, g));  // create_graph: keep the sum differentiable
  } else {
    kernels::add_(cur, g);
  }
  for (auto& h : post_accumulate_grad_hooks(variable)) h(variable);  // the gradient is complete
  return {};
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  version_ = t.version();
  requires_grad_ = t.requires_grad();
  if (is_output && t.grad_fn()) {
    data_ = t.detach();
    fn_ = t.grad_fn();
    output_nr_ = t.output_nr();
  } else {
    data_ = t;
  }
}

Tensor SavedTensor::unpack(const std::string& node_name) const {
  if (!data_.defined()) return Tensor();
  if (data_.version() != version_)
    throw std::runtime_error("one of the tensors needed for gradient computation" +
                             (node_name.empty() ? std::string() : " (by " + node_name + ")") +
                             " has been modified by an in-place operation: it is at version " +
                             std::to_string(data_.version()) + ", expected version " + std::to_string(version_));
  if (!is_output_ || fn_.expired()) return data_;
  Tensor t = data_.detach();
  auto& m = t.autograd_meta();
  m.requires_grad = requires_grad_;
  m.grad_fn = fn_.lock();
  m.output_nr = output_nr_;
  return t;
}

TensorList OpNode::apply(TensorList&& grads) {
  if (!fn_)
    throw std::runtime_error("Trying to backward through the graph a second time (or to use saved tensors after they "
                             "were freed) at " + name_ +
                             ". Pass retain_graph=true to backward()/grad() the first time if you need to do this.");
  return fn_(grads, *this);
}

bool needs_grad(const TensorList& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  auto& m = t.autograd_meta();
  auto acc = m.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    m.grad_accumulator = acc;
  }
  return {acc, 0};
}

std::shared_ptr<OpNode> make_node(std::string name, const TensorList& inputs) {
  if (!needs_grad(inputs)) return nullptr;
  auto node = std::make_shared<OpNode>(std::move(name));
  node->sequence_nr = next_sequence_nr();
  node->next_edges.reserve(inputs.size());
  for (const auto& t : inputs) node->next_edges.push_back(gradient_edge(t));
  return node;
}

Tensor linear_map(const std::string& name, const std::string& adjoint_name, RawMap a, RawMap at, const Tensor& x) {
  Tensor out = a(x);
  if (auto node = make_node(name, {x})) {
    node->set_backward([name, adjoint_name, a, at](const TensorList& g, const Node&) {
      return TensorList{linear_map(adjoint_name, name, at, a, g[0])};
    });
    set_history(node, {out});
  }
  return out;
}

void set_history(const std::shared_ptr<Node>& node, const TensorList& outputs) {
  for (const auto& out : outputs) {
    auto& m = out.autograd_meta();
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = uint32_t(node->outputs.size());
    node->outputs.push_back({out.shape(), out.dtype()});
  }
  node->pre_hooks.resize(node->outputs.size());
}

}  // namespace tessera::autograd
