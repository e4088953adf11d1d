#include "autograd/grad_hooks.h"

#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace tessera {

namespace {
std::mutex g_mu;
std::unordered_map<const TensorImpl*, std::vector<PostAccumulateHook>> g_hooks;
}  // namespace

void register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateHook hook) {
  if (!leaf.defined() || !leaf.requires_grad() || !leaf.is_leaf())
    throw std::invalid_argument("register_post_accumulate_grad_hook: expected a leaf tensor that requires grad");
  std::lock_guard lk(g_mu);
  g_hooks[leaf.impl_ptr().get()].push_back(std::move(hook));
}

void clear_post_accumulate_grad_hooks(const Tensor& leaf) {
  if (!leaf.defined()) return;
  std::lock_guard lk(g_mu);
  g_hooks.erase(leaf.impl_ptr().get());
}

namespace autograd {
std::vector<PostAccumulateHook> post_accumulate_grad_hooks(const Tensor& leaf) {
  std::lock_guard lk(g_mu);
  if (g_hooks.empty()) return {};
  auto it = g_hooks.find(leaf.impl_ptr().get());
  return it == g_hooks.end() ? std::vector<PostAccumulateHook>{} : it->second;
}
}  // namespace autograd

}  // namespace tessera
