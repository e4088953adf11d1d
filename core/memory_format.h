#pragma once
// Channels-last 4-d tensors (torch.channels_last): logically [N, C, H, W] like every 4-d tensor,
// stored N, H, W, C in memory. oneDNN's bf16 convolutions on AMX read and write that layout, so a
// CNN whose activations stay channels-last skips the NCHW <-> NHWC reorders around every
// convolution; elementwise ops and batch norm keep the layout of their input (as torch's do).
#include "core/factory.h"
#include "core/tensor.h"

namespace tessera {

enum class MemoryFormat { Contiguous, ChannelsLast };

// The strides of a channels-last tensor of this 4-d shape: {H*W*C, 1, W*C, C}.
Shape channels_last_strides(const Shape& shape);
// True for a 4-d tensor laid out densely as N, H, W, C that is not also contiguous (a tensor
// with C == 1 or H == W == 1 is both; it counts as contiguous). Strides of size-1 dims are ignored.
bool is_channels_last(const Tensor& t);
// Both contiguous or both channels-last, of one shape: their buffers hold the same elements in
// the same order, so a flat loop over one maps onto the other.
bool same_dense_layout(const Tensor& a, const Tensor& b);
Tensor empty_channels_last(const Shape& shape, TensorOptions opt = {});
// A result of `shape`: channels-last when `like` has that shape and is channels-last (how
// elementwise results follow their first full-size input), contiguous otherwise.
Tensor empty_like_layout(const Shape& shape, TensorOptions opt, const Tensor& like);
// t in the given layout: t itself when it already is, else a copy (no autograd: kernels only).
Tensor to_memory_format(const Tensor& t, MemoryFormat f);

}  // namespace tessera
