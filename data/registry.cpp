#include "data/registry.h"

namespace tessera::data {

DatasetRegistry& datasets() {
  static DatasetRegistry r("dataset");
  return r;
}
TransformRegistry& transforms() {
  static TransformRegistry r("transform");
  return r;
}
SamplerRegistry& samplers() {
  static SamplerRegistry r("sampler");
  return r;
}

}  // namespace tessera::data
