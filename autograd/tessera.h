#pragma once
// Everything a user of the engine needs: tensors, factories, differentiable ops, autograd.
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/conv.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"  // also brings in autograd/ops/shape.h
#include "autograd/ops/interpolate.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/norm.h"
#include "autograd/ops/pool.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "core/threading.h"
