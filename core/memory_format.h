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
// t in the layout of `like` when both have one shape and are dense in different layouts (channels-
// last against contiguous), copied by copy_'s tiled transpose; otherwise t itself. Elementwise ops
// call it on their inputs: their loop would read a mismatched input at a stride of C or H * W, one
// element at a time (~20x slower for bfloat16). Layouts mix where convolutions pick different ones
// (MOAT: oneDNN's depthwise kernels write their blocked layout, so NCHW results, beside
// channels-last ones).
Tensor in_layout_of(const Tensor& t, const Tensor& like);
// t in the given layout: t itself when it already is, else a copy (no autograd: kernels only).
Tensor to_memory_format(const Tensor& t, MemoryFormat f);

}  // namespace tessera
