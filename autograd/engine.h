#pragma once
// Reverse-mode differentiation over the recorded graph: tensor.backward() and torch.autograd.grad.
#include <optional>

#include "autograd/node.h"
#include "core/tensor.h"

namespace tessera {

struct BackwardOptions {
  std::optional<bool> retain_graph;  // default: same as create_graph (as in PyTorch)
  bool create_graph = false;         // record the backward pass itself, for higher derivatives
};

struct GradOptions {
  std::optional<bool> retain_graph;
  bool create_graph = false;
  bool allow_unused = false;  // otherwise an input the outputs do not depend on is an error
};

// Accumulates d(roots)/d(leaf) into every leaf's .grad. `grads` may be empty for scalar roots.
void backward(const Tensor& root, const Tensor& grad = Tensor(), BackwardOptions opt = {});
void backward(const TensorList& roots, const TensorList& grads, BackwardOptions opt = {});

// Returns d(outputs)/d(inputs) without touching .grad (undefined where unused and allowed).
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs = {},
                GradOptions opt = {});

// Hooks run on the gradient w.r.t. t when it is computed; they may return a replacement.
void register_hook(const Tensor& t, autograd::Hook hook);
// Keeps .grad of a non-leaf tensor after backward (leaves always keep theirs).
void retain_grad(const Tensor& t);

}  // namespace tessera
