#pragma once
// Post-accumulate-grad hooks (PyTorch's Tensor.register_post_accumulate_grad_hook): `hook(leaf)` runs
// every time backward() has added a gradient into the leaf's .grad, i.e. when that gradient is
// complete for this backward. Data-parallel training starts reducing a gradient as soon as it is
// ready. grad() never runs them (it does not touch .grad). The hooks are kept beside the graph,
// keyed by the leaf: its AccumulateGrad node lives only as long as a graph that uses it.
#include <functional>

#include "core/tensor.h"

namespace tessera {

using PostAccumulateHook = std::function<void(const Tensor& leaf)>;

void register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateHook hook);
// Removes every post-accumulate hook of the leaf (call before the hook's captures die).
void clear_post_accumulate_grad_hooks(const Tensor& leaf);

namespace autograd {
// The leaf's hooks, copied (a hook may register hooks); AccumulateGrad calls them.
std::vector<PostAccumulateHook> post_accumulate_grad_hooks(const Tensor& leaf);
}  // namespace autograd

}  // namespace tessera
