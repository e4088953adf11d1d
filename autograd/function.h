#pragma once
// Custom differentiable functions, like torch.autograd.Function:
//
//   struct Cube : autograd::Function<Cube> {
//     static TensorList forward(FunctionCtx& ctx, const TensorList& in) {
//       ctx.save_for_backward({in[0]});
//       return {mul(mul(in[0], in[0]), in[0])};
//     }
//     static TensorList backward(FunctionCtx& ctx, const TensorList& g) {
//       Tensor x = ctx.saved_tensors()[0];
//       return {mul(g[0], mul(mul(x, x), 3.0))};
//     }
//   };
//   Tensor y = Cube::apply({x})[0];
//
// forward runs without recording; backward runs under the engine's grad mode, so a backward
// written with differentiable ops supports create_graph.
#include <any>
#include <map>
#include <memory>
#include <string>
#include <typeinfo>

#include "autograd/grad_mode.h"
#include "autograd/record.h"

namespace tessera::autograd {

class FunctionCtx {
 public:
  void save_for_backward(const TensorList& ts) { to_save_ = ts; }
  TensorList saved_tensors() const {
    TensorList r;
    for (const auto& s : saved_) r.push_back(s.unpack(name));
    return r;
  }
  bool needs_input_grad(size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }
  std::map<std::string, std::any> saved_data;  // non-tensor state for backward
  std::string name;

 private:
  template <typename F> friend struct Function;
  TensorList to_save_;
  std::vector<SavedTensor> saved_;
  std::vector<bool> needs_input_grad_;
};

template <typename F>
struct Function {
  static TensorList apply(const TensorList& inputs) {
    auto ctx = std::make_shared<FunctionCtx>();
    ctx->name = typeid(F).name();
    for (const auto& t : inputs) ctx->needs_input_grad_.push_back(t.defined() && t.requires_grad());
    TensorList outputs;
    {
      NoGradGuard no_grad;
      outputs = F::forward(*ctx, inputs);
    }
    for (auto& o : outputs) o = o.detach();  // fresh impls: outputs get this node's history only
    auto node = make_node(ctx->name, inputs);
    TensorList differentiable;
    for (const auto& o : outputs)
      if (o.is_floating_point()) differentiable.push_back(o);
    if (node) set_history(node, differentiable);
    // A saved output must be the recorded tensor (saved weakly, see SavedTensor), not the
    // pre-detach one forward returned.
    for (const auto& t : ctx->to_save_) {
      const Tensor* out = nullptr;
      for (const auto& o : outputs)
        if (node && o.shares_storage(t) && o.shape() == t.shape() && o.storage_offset() == t.storage_offset()) out = &o;
      ctx->saved_.push_back(out ? SavedTensor(*out, true) : SavedTensor(t, false));
    }
    ctx->to_save_.clear();
    if (node) {
      node->set_backward([ctx, n_in = inputs.size()](const TensorList& g, const Node&) {
        TensorList r = F::backward(*ctx, g);
        if (r.size() != n_in)
          throw std::logic_error(ctx->name + ": backward returned " + std::to_string(r.size()) +
                                 " gradients for " + std::to_string(n_in) + " inputs");
        for (size_t i = 0; i < r.size(); ++i)
          if (!ctx->needs_input_grad(i)) r[i] = Tensor();
        return r;
      });
    }
    return outputs;
  }
};

}  // namespace tessera::autograd
