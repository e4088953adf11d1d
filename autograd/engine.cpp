#include "autograd/engine.h"

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/profiler.h"

namespace tessera {
namespace {

using autograd::AccumulateGrad;
using autograd::Edge;
using autograd::Node;

struct Target {
  Node* node;
  uint32_t slot;
};

// One backward pass. In accumulate mode (backward()) every reachable node runs and leaves
// accumulate into .grad; in capture mode (grad()) only nodes leading to a target run and the
// gradients arriving at the targets are returned instead.
TensorList run_backward(const TensorList& roots, const TensorList& root_grads, bool keep_graph, bool create_graph,
                        const std::vector<Target>* targets) {
  profile::Scope prof_scope(profile::Family::Autograd, profile::Kind::Exclusive);
  if (!root_grads.empty() && root_grads.size() != roots.size())
    throw std::invalid_argument("backward: got " + std::to_string(root_grads.size()) + " gradients for " +
                                std::to_string(roots.size()) + " tensors");
  std::vector<Edge> root_edges;
  TensorList root_values;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    if (!r.defined() || !r.requires_grad())
      throw std::runtime_error("element " + std::to_string(i) +
                               " of tensors does not require grad and does not have a grad_fn");
    Tensor g = root_grads.empty() ? Tensor() : root_grads[i];
    if (!g.defined()) {
      if (r.numel() != 1)
        throw std::runtime_error("grad can be implicitly created only for scalar outputs; output " +
                                 std::to_string(i) + " has shape " + shape_str(r.shape()));
      g = ones_like(r);
    } else if (g.shape() != r.shape()) {
      throw std::invalid_argument("backward: gradient " + std::to_string(i) + " has shape " + shape_str(g.shape()) +
                                  " but the output has shape " + shape_str(r.shape()));
    }
    root_edges.push_back(autograd::gradient_edge(r));
    root_values.push_back(g);
  }

  // Discover the graph and count, for every node, how many edges point at it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> order;  // DFS discovery order
  {
    std::vector<Node*> stack;
    std::unordered_set<Node*> seen;
    for (auto& e : root_edges)
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (auto& e : n->next_edges) {
        if (!e.valid()) continue;
        deps[e.fn.get()]++;
        if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
      }
    }
  }

  // In capture mode, a node runs only if a target is reachable from it.
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> target_slots;
  std::unordered_set<Node*> needed;
  if (targets) {
    for (size_t i = 0; i < targets->size(); ++i)
      if ((*targets)[i].node) target_slots[(*targets)[i].node].push_back({(*targets)[i].slot, i});
    // Reverse topological order is not known yet; iterate to a fixed point (graphs are small).
    bool changed = true;
    for (auto& [n, _] : target_slots) needed.insert(n);
    while (changed) {
      changed = false;
      for (Node* n : order) {
        if (needed.count(n)) continue;
        for (auto& e : n->next_edges)
          if (e.valid() && needed.count(e.fn.get())) {
            needed.insert(n);
            changed = true;
            break;
          }
      }
    }
  }
  auto is_needed = [&](Node* n) { return !targets || needed.count(n) > 0; };

  EnableGradGuard grad_mode(create_graph);
  std::unordered_map<Node*, TensorList> buffers;
  auto accumulate = [&](const Edge& e, Tensor g) {
    auto& buf = buffers[e.fn.get()];
    if (buf.size() < e.fn->outputs.size()) buf.resize(e.fn->outputs.size());
    Tensor& slot = buf[e.input_nr];
    slot = slot.defined() ? add(slot, g) : std::move(g);
  };
  for (size_t i = 0; i < root_edges.size(); ++i) accumulate(root_edges[i], root_values[i]);

  auto later_first = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (auto& e : root_edges)
    if (deps[e.fn.get()] == 0 && is_needed(e.fn.get())) {
      deps[e.fn.get()] = -1;  // queued
      ready.push(e.fn.get());
    }

  TensorList captured(targets ? targets->size() : 0);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    TensorList grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(n->outputs.size());
    auto is_target_slot = [&](size_t i) {
      if (!targets) return false;
      auto it = target_slots.find(n);
      return it != target_slots.end() &&
             std::any_of(it->second.begin(), it->second.end(), [&](const auto& si) { return si.first == i; });
    };
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined() && !(n->accepts_undefined_grads && n->pre_hooks[i].empty() && !is_target_slot(i)))
        grads[i] = zeros(n->outputs[i].shape, {.dtype = n->outputs[i].dtype});
      for (auto& hook : n->pre_hooks[i]) {
        Tensor r = hook(grads[i]);
        if (r.defined()) grads[i] = r;
      }
    }
    if (targets) {
      auto it = target_slots.find(n);
      if (it != target_slots.end())
        for (auto& [slot, idx] : it->second) captured[idx] = grads[slot];
    }
    bool is_leaf_acc = dynamic_cast<AccumulateGrad*>(n) != nullptr;
    bool run = targets ? !is_leaf_acc && std::any_of(n->next_edges.begin(), n->next_edges.end(), [&](const Edge& e) {
      return e.valid() && needed.count(e.fn.get());
    })
                       : true;
    if (run) {
      TensorList out = n->apply(std::move(grads));
      if (!is_leaf_acc && out.size() != n->next_edges.size())
        throw std::logic_error(n->name() + " returned " + std::to_string(out.size()) + " gradients, expected " +
                               std::to_string(n->next_edges.size()));
      for (size_t i = 0; i < n->next_edges.size(); ++i) {
        const Edge& e = n->next_edges[i];
        if (!e.valid() || !out[i].defined()) continue;
        const auto& meta = e.fn->outputs[e.input_nr];
        if (out[i].shape() != meta.shape)
          throw std::logic_error(n->name() + " returned a gradient of shape " + shape_str(out[i].shape()) +
                                 " for input " + std::to_string(i) + ", expected " + shape_str(meta.shape));
        if (out[i].dtype() != meta.dtype && is_floating(out[i].dtype()) && is_floating(meta.dtype) &&
            !e.fn->takes_any_float_grad)
          out[i] = to(out[i], meta.dtype);
        accumulate(e, std::move(out[i]));
      }
    }
    if (!keep_graph) n->release_saved();
    for (auto& e : n->next_edges) {
      if (!e.valid()) continue;
      if (--deps[e.fn.get()] == 0 && is_needed(e.fn.get())) ready.push(e.fn.get());
    }
  }
  return captured;
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad, BackwardOptions opt) {
  backward(TensorList{root}, grad.defined() ? TensorList{grad} : TensorList{}, opt);
}

void backward(const TensorList& roots, const TensorList& grads, BackwardOptions opt) {
  run_backward(roots, grads, opt.retain_graph.value_or(opt.create_graph), opt.create_graph, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs, GradOptions opt) {
  std::vector<Target> targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad())
      throw std::invalid_argument("grad: input " + std::to_string(i) + " does not require grad");
    if (x.grad_fn()) {
      targets.push_back({x.grad_fn().get(), x.output_nr()});
    } else {
      auto acc = x.autograd_meta().grad_accumulator.lock();
      targets.push_back({acc.get(), 0});  // null: never used in the graph
    }
  }
  TensorList r = run_backward(outputs, grad_outputs, opt.retain_graph.value_or(opt.create_graph), opt.create_graph,
                              &targets);
  for (size_t i = 0; i < r.size(); ++i)
    if (!r[i].defined() && !opt.allow_unused)
      throw std::runtime_error("grad: input " + std::to_string(i) +
                               " was not used in the graph of the outputs; pass allow_unused=true if this is expected");
  return r;
}

void register_hook(const Tensor& t, autograd::Hook hook) {
  if (!t.requires_grad())
    throw std::invalid_argument("register_hook: cannot register a hook on a tensor that does not require grad");
  Edge e = autograd::gradient_edge(t);
  e.fn->pre_hooks[e.input_nr].push_back(std::move(hook));
}

void retain_grad(const Tensor& t) {
  if (!t.requires_grad())
    throw std::invalid_argument("retain_grad: cannot retain the grad of a tensor that does not require grad");
  if (t.is_leaf() || t.autograd_meta().retains_grad) return;
  t.autograd_meta().retains_grad = true;
  std::weak_ptr<TensorImpl> weak = t.impl_ptr();
  register_hook(t, [weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      Tensor self(impl);
      Tensor cur = self.grad();
      self.set_grad(cur.defined() ? add(cur, g).detach() : g.detach());
    }
    return Tensor();
  });
}

}  // namespace tessera
