#pragma once
// Everything a user of the engine needs: tensors, factories, differentiable ops, autograd.
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/arith.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/unary.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "core/threading.h"
