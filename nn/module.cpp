#include "nn/module.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "core/kernels/copy.h"

namespace tessera::nn {

void StateDict::insert(const std::string& key, const Tensor& t) {
  for (auto& [k, v] : items_)
    if (k == key) {
      v = t;
      return;
    }
  items_.emplace_back(key, t);
}

bool StateDict::contains(const std::string& key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
}

const Tensor& StateDict::at(const std::string& key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  throw std::out_of_range("state dict has no key '" + key + "'");
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> r;
  for (const auto& [k, v] : items_) r.push_back(k);
  return r;
}

Tensor Module::forward(const Tensor&) {
  throw std::logic_error(type_name() + " has no single-tensor forward()");
}

namespace {
const Tensor& named_at(const TensorMap& m, const std::string& name, const char* what) {
  auto it = m.find(name);
  if (it != m.end()) return it->second;
  std::string have;
  for (const auto& [k, v] : m) have += (have.empty() ? "" : ", ") + k;
  throw std::invalid_argument(std::string(what) + " has no tensor '" + name + "' (it has: " +
                              (have.empty() ? "none" : have) + ")");
}
}  // namespace

const Tensor& ModelInput::at(const std::string& name) const { return named_at(tensors, name, "model input"); }
const Tensor& ModelOutput::at(const std::string& name) const { return named_at(tensors, name, "model output"); }

ModelOutput Module::forward_named(const ModelInput& in) {
  if (in.tensors.size() != 1) {
    std::string have;
    for (const auto& [k, v] : in.tensors) have += (have.empty() ? "" : ", ") + k;
    throw std::invalid_argument(type_name() + " takes one input tensor, got " + std::to_string(in.tensors.size()) +
                                " (" + have + "): give the task one input, or override forward_named()");
  }
  ModelOutput out;
  out.tensors["output"] = forward(in.tensors.begin()->second);
  return out;
}

namespace {
void check_name(const std::string& name, const std::string& owner) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(owner + ": invalid attribute name '" + name + "' (must be non-empty, without '.')");
}
}  // namespace

const Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, type_name());
  for (auto& [k, v] : params_)
    if (k == name) throw std::invalid_argument(type_name() + ": parameter '" + name + "' already registered");
  if (t.defined() && requires_grad) t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}

const Tensor& Module::register_buffer(const std::string& name, Tensor t, bool persistent) {
  check_name(name, type_name());
  buffers_.emplace_back(name, t);
  if (!persistent) non_persistent_.push_back(name);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_name(name, type_name());
  if (!m) throw std::invalid_argument(type_name() + ": submodule '" + name + "' is null");
  for (auto& [k, v] : children_)
    if (k == name) throw std::invalid_argument(type_name() + ": submodule '" + name + "' already registered");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool recurse, bool persistent_only,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  const auto& own = params ? params_ : buffers_;
  for (const auto& [k, v] : own) {
    if (!v.defined()) continue;
    if (persistent_only && std::find(non_persistent_.begin(), non_persistent_.end(), k) != non_persistent_.end())
      continue;
    out.emplace_back(prefix + k, v);
  }
  if (recurse)
    for (const auto& [k, m] : children_) m->collect(prefix + k + ".", params, true, persistent_only, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> r;
  collect("", true, recurse, false, r);
  return r;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> r;
  for (auto& [k, v] : named_parameters(recurse)) r.push_back(v);
  return r;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> r;
  collect("", false, recurse, false, r);
  return r;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> r{{prefix, this}};
  for (auto& [k, m] : children_) {
    auto sub = m->named_modules(prefix.empty() ? k : prefix + "." + k);
    r.insert(r.end(), sub.begin(), sub.end());
  }
  return r;
}

int64_t Module::num_parameters(bool only_trainable) const {
  int64_t n = 0;
  for (auto& [k, v] : named_parameters())
    if (!only_trainable || v.requires_grad()) n += v.numel();
  return n;
}

StateDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> items;
  // PyTorch order: each module's parameters, then its buffers, then its children.
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& pre) {
    m.collect(pre, true, false, true, items);
    m.collect(pre, false, false, true, items);
    for (const auto& [k, c] : m.children_) walk(*c, pre + k + ".");
  };
  walk(*this, "");
  StateDict sd;
  for (auto& [k, v] : items) sd.insert(k, v.detach());
  return sd;
}

LoadResult Module::load_state_dict(const StateDict& sd, bool strict) {
  LoadResult r;
  StateDict own = state_dict();
  for (const auto& [k, v] : own) {
    if (!sd.contains(k)) {
      r.missing_keys.push_back(k);
      continue;
    }
    const Tensor& src = sd.at(k);
    bool legacy_scalar = v.dim() == 0 && src.dim() == 1 && src.numel() == 1;  // torch accepts this too
    if (src.shape() != v.shape() && !legacy_scalar)
      r.mismatched_keys.push_back(k + ": checkpoint " + shape_str(src.shape()) + " vs model " + shape_str(v.shape()));
  }
  for (const auto& [k, v] : sd)
    if (!own.contains(k)) r.unexpected_keys.push_back(k);
  if (!r.mismatched_keys.empty() || (strict && !r.ok())) {
    std::ostringstream os;
    os << "Error(s) in loading state_dict for " << type_name() << ":";
    auto list = [&](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      os << "\n  " << what << ":";
      for (const auto& k : keys) os << " " << k << ";";
    };
    list("Missing key(s)", r.missing_keys);
    list("Unexpected key(s)", r.unexpected_keys);
    list("Size mismatch", r.mismatched_keys);
    throw std::invalid_argument(os.str());
  }
  NoGradGuard no_grad;
  for (const auto& [k, v] : own)
    if (sd.contains(k)) {
      const Tensor& src = sd.at(k);
      kernels::copy_(v, src.dim() == 1 && v.dim() == 0 ? src.as_strided({}, {}, src.storage_offset()) : src);
      v.bump_version();
    }
  return r;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [k, m] : children_) m->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (auto& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) p.set_grad(Tensor());
    else kernels::fill_(g, 0.0);
  }
}

Module& Module::to(DType dtype) {
  if (!is_floating(dtype))
    throw std::invalid_argument(type_name() + ".to(" + dtype_name(dtype) + "): parameters need a floating dtype");
  auto convert = [dtype](const Tensor& t) {
    if (!t.defined() || !t.is_floating_point() || t.dtype() == dtype) return;
    Tensor c = kernels::to_dtype(kernels::contiguous(t), dtype);
    // Swap the data under the existing handle (PyTorch's `p.data = p.data.to(dtype)`), so every
    // holder of this Tensor sees the converted values.
    TensorImpl& impl = t.impl();
    impl.storage = c.storage();
    impl.shape = c.shape();
    impl.strides = c.strides();
    impl.offset = c.storage_offset();
    impl.dtype = dtype;
    if (impl.autograd) impl.autograd->grad.reset();
  };
  for (auto& [name, m] : named_modules()) {
    for (auto& [k, p] : m->params_) convert(p);
    for (auto& [k, b] : m->buffers_) convert(b);
  }
  return *this;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [k, m] : children_) m->apply(fn);
  fn(*this);
}

std::string Module::to_string() const {
  std::ostringstream os;
  os << type_name() << "(";
  std::string extra = extra_repr();
  if (children_.empty()) {
    os << extra << ")";
    return os.str();
  }
  if (!extra.empty()) os << "\n  " << extra;
  for (const auto& [k, m] : children_) {
    std::string sub = m->to_string();
    std::string indented;
    for (char c : sub) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    os << "\n  (" << k << "): " << indented;
  }
  os << "\n)";
  return os.str();
}

}  // namespace tessera::nn
