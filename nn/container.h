#pragma once
// Sequential, ModuleList, ModuleDict: children named "0", "1", ... or by key, as in PyTorch.
#include <map>

#include "nn/module.h"

namespace tessera::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> mods);
  std::string type_name() const override { return "Sequential"; }
  void push_back(ModulePtr m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
};

class ModuleList : public Module {
 public:
  ModuleList() = default;
  explicit ModuleList(std::vector<ModulePtr> mods);
  std::string type_name() const override { return "ModuleList"; }
  void push_back(ModulePtr m);
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const;
  template <typename M> std::shared_ptr<M> at(size_t i) const { return std::dynamic_pointer_cast<M>((*this)[i]); }
};

class ModuleDict : public Module {
 public:
  std::string type_name() const override { return "ModuleDict"; }
  void insert(const std::string& key, ModulePtr m) { add_child(key, std::move(m)); }
  bool contains(const std::string& key) const;
  ModulePtr operator[](const std::string& key) const;
};

}  // namespace tessera::nn
