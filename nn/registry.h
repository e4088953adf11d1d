#pragma once
// The models YAML configs name (`model: {name: resnet18, ...}`). Each model family registers its
// entries in its own .cpp file with its options struct's table (see core/registry.h).
#include "core/registry.h"
#include "nn/module.h"

namespace tessera::nn {

using ModelRegistry = ComponentRegistry<ModulePtr>;
ModelRegistry& models();

}  // namespace tessera::nn
