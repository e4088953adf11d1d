#include "nn/registry.h"

namespace tessera::nn {

ModelRegistry& models() {
  static ModelRegistry r("model");
  return r;
}

}  // namespace tessera::nn
