#include "nn/container.h"

#include <stdexcept>

namespace tessera::nn {

Sequential::Sequential(std::vector<ModulePtr> mods) {
  for (auto& m : mods) push_back(std::move(m));
}
void Sequential::push_back(ModulePtr m) { add_child(std::to_string(size()), std::move(m)); }
Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [k, m] : named_children()) h = m->forward(h);
  return h;
}
ModulePtr Sequential::operator[](size_t i) const {
  if (i >= size()) throw std::out_of_range("Sequential: index " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
  return named_children()[i].second;
}

ModuleList::ModuleList(std::vector<ModulePtr> mods) {
  for (auto& m : mods) push_back(std::move(m));
}
void ModuleList::push_back(ModulePtr m) { add_child(std::to_string(size()), std::move(m)); }
ModulePtr ModuleList::operator[](size_t i) const {
  if (i >= size()) throw std::out_of_range("ModuleList: index " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
  return named_children()[i].second;
}

bool ModuleDict::contains(const std::string& key) const {
  for (auto& [k, m] : named_children())
    if (k == key) return true;
  return false;
}
ModulePtr ModuleDict::operator[](const std::string& key) const {
  for (auto& [k, m] : named_children())
    if (k == key) return m;
  throw std::out_of_range("ModuleDict: no module named '" + key + "'");
}

}  // namespace tessera::nn
