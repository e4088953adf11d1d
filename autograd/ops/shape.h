#pragma once
// Differentiable joining and reordering: cat/stack, split/chunk (views), pad, triu/tril, repeat,
// flip, roll. PyTorch semantics; negative dims count from the end.
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera {

// Type promotion across inputs; 1-d empty tensors are skipped (legacy PyTorch behaviour).
Tensor cat(const TensorList& tensors, int64_t dim = 0);
Tensor stack(const TensorList& tensors, int64_t dim = 0);
// Views of x: pieces of split_size along dim (the last may be smaller), or pieces of the given sizes.
TensorList split(const Tensor& x, int64_t split_size, int64_t dim = 0);
TensorList split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// torch.split_copy: the pieces of split(x, split_size, dim) as new contiguous tensors, recorded as ONE
// node whose backward is a single cat. A loop over many pieces of a long tensor (Titans' memory
// chunks) then costs O(size) in backward, where views cost O(size) per piece (each slice's
// gradient is a zero tensor of x's size).
TensorList split_copy(const Tensor& x, int64_t split_size, int64_t dim = 0);
// torch.unbind: the slices x.select(dim, i) for every i, as views, recorded as ONE node. Its backward
// writes each piece's gradient into one buffer laid out like x (x's strides when x is dense, so the
// permute/reshape that made x stays free in backward): no zero tensor per piece and no sum of them.
TensorList unbind(const Tensor& x, int64_t dim = 0);
// torch.chunk: pieces of ceil(size / chunks); may return fewer than `chunks` pieces.
TensorList chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// pads in torch order (last dim first). mode "constant" (value; negative pads crop) or "reflect"
// (each pad must be smaller than its dim).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode = "constant", double value = 0.0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// dims empty: roll the flattened tensor (shifts must then have one entry).
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims = {});

}  // namespace tessera
