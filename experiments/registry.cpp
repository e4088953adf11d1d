#include "experiments/registry.h"

#include <mutex>

namespace tessera::experiments {

Registries& registry() {
  static Registries r;
  static std::once_flag once;
  std::call_once(once, [] { register_builtins(r); });
  return r;
}

}  // namespace tessera::experiments
