#pragma once
// 2-d convolution (NCHW input, weight [out, in / groups, kh, kw], PyTorch semantics) and its two
// backward kernels. float32/bfloat16 run on oneDNN (primitives cached per problem, blocked
// layouts chosen by oneDNN and reordered internally); float64 runs on the direct-loop reference,
// which tests also use to check the oneDNN path. Channels-last activations and gradients
// (core/memory_format.h) are handed to oneDNN as they are, and a result is channels-last wherever
// the primitive writes that layout (bf16 on AMX) or the im2col path ran: a CNN's activations then
// stay channels-last from the first convolution on, with no reorder around the next one.
#include <array>
#include <optional>

#include "core/memory_format.h"
#include "core/tensor.h"

namespace tessera {

// Lives in namespace tessera (not kernels) so that argument-dependent lookup on it finds the
// differentiable ops, not the raw kernels of the same name.
struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  // float32 operands computed in this dtype (bfloat16) on oneDNN, with float32 accumulation and
  // float32 results; the casts are fused into oneDNN's reorders into its blocked layouts. Unset:
  // compute in the operands' dtype. Backward kernels get the same params, so they run in the same
  // precision. (Autocast no longer uses this: it casts the operands and returns bfloat16, as
  // torch; this stays for callers that want float32 results of a bf16 computation.)
  std::optional<DType> compute_dtype;
};

}  // namespace tessera

namespace tessera::kernels {

// Which kernels run float32/bfloat16 convolutions. Auto: oneDNN's convolution primitives, except
// bfloat16 problems on AMX CPUs with small output planes (weight gradients: <= 64 pixels, forward
// and input gradients: <= 16), which run as one matrix product over im2col columns (oneDNN's AMX
// matmul is 1.3-6x its AMX convolutions there). OneDnn and Gemm force one (tests, A/B
// benchmarks); grouped convolutions always run on oneDNN. TESSERA_CONV_ALGO=auto|onednn|gemm
// sets the start value.
enum class ConvAlgorithm { Auto, OneDnn, Gemm };
void set_conv_algorithm(ConvAlgorithm a);
ConvAlgorithm get_conv_algorithm();
// Throws std::invalid_argument naming TESSERA_CONV_ALGO and the choices for a bad value.
void check_conv_environment();

// Output shape of conv2d; throws std::invalid_argument naming both shapes for bad channel/group
// counts, ranks or parameters.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& p);

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
// Gradient w.r.t. the input: the adjoint of conv2d(., w) applied to grad_out. result_format: the
// layout of the result (autograd asks for the forward input's, as torch gives a gradient its
// input's memory format); unset, the layout the kernel writes (channels-last on the bf16 AMX path).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& input_shape, const Conv2dParams& p,
                             std::optional<MemoryFormat> result_format = std::nullopt);
// Gradient w.r.t. the weight: the adjoint of conv2d(x, .) applied to grad_out.
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape, const Conv2dParams& p);

// Direct-loop reference implementations (any floating dtype, double accumulation).
Tensor conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
Tensor conv2d_backward_input_reference(const Tensor& grad_out, const Tensor& w, const Shape& input_shape,
                                       const Conv2dParams& p);
Tensor conv2d_backward_weight_reference(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                                        const Conv2dParams& p);

}  // namespace tessera::kernels
