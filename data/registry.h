#pragma once
// The datasets, transforms and samplers YAML configs name. Each registers in its own .cpp file
// with its options struct's table (see core/registry.h).
#include <cstdint>
#include <memory>

#include "core/registry.h"
#include "data/dataset.h"
#include "data/sampler.h"

namespace tessera::data {

using DatasetRegistry = ComponentRegistry<std::shared_ptr<const Dataset>>;
using TransformRegistry = ComponentRegistry<Transform>;
// A split's `sampler:` over that split's dataset; `seed` is the split's loader seed, so draws
// depend on (seed, epoch) only.
using SamplerRegistry = ComponentRegistry<std::shared_ptr<const Sampler>, const std::shared_ptr<const Dataset>&, uint64_t>;

DatasetRegistry& datasets();
TransformRegistry& transforms();
SamplerRegistry& samplers();

}  // namespace tessera::data
