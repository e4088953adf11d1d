#pragma once
// ONNX export (opset 17, IR version 8). An exporter that walks the model's modules as torch.onnx
// would trace them in eval mode: each layer becomes standard ONNX operators (Conv,
// BatchNormalization in inference form, Relu, MaxPool, GlobalAveragePool, Gemm/MatMul,
// LayerNormalization, attention as MatMul/Softmax, GELU as Erf arithmetic, hard-attention gates as
// Sigmoid/Mul), with the weights as initializers named by their state_dict keys and nothing else
// as initializers. Input "input" [batch, C, H, W] and output "logits" [batch, classes], batch
// dynamic (and H, W for the convolutional models).
//
// Supported: ResNet (BasicBlock and Bottleneck, ImageNet or CIFAR stem), HagResNet, MultiStreamNet
// (the gated multistream polyp-size network; its single input is the streams concatenated on
// channels, as in Tessera), VisionTransformer (timm layout: class token or average pooling,
// LayerScale, qk_norm, and hag_vit's gates on the residual branches), MOAT (MBConv + SE, MOAT,
// attention-first and CoAtNet-style blocks, global or windowed attention with the relative
// position bias resized and gathered in the graph from the map size read at run time, stage
// gates) and the Transformer LM. Other models, and options with no export yet (rotary
// embeddings), are refused with an error naming them. Gates are input-independent at inference:
// x * sigmoid(fsag), with gates under eval_threshold zeroed (GreaterOrEqual/Where), exactly the
// eval-mode forward.
//
// The protobuf classes are protoc-generated from libonnx-dev's onnx.proto and linked against
// Debian's static libprotobuf with hidden symbols (CMakeLists.txt says why libonnx.so, and with it
// its onnx::checker, cannot be in the process). A structural check (topological order, every
// value defined once) runs before writing; `make test` runs onnx.checker from Debian's python3-onnx
// on exported files and `make check-interop` runs them in ONNX Runtime.
#include <string>

#include "nn/module.h"

namespace tessera::experiments {

constexpr int kOnnxOpset = 17;

// Builds the graph of `model` (eval-mode semantics; the model itself is not changed), checks its
// structure and writes it atomically. Throws std::invalid_argument for unsupported models,
// std::runtime_error naming the path when the file cannot be written.
void export_onnx(const std::string& path, nn::Module& model);

}  // namespace tessera::experiments
