#include "optim/registry.h"

namespace tessera::optim {

OptimizerRegistry& optimizers() {
  static OptimizerRegistry r("optimizer");
  return r;
}

}  // namespace tessera::optim
