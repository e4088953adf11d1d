#pragma once
// ONNX export (opset 17) through Debian's libonnx (its onnx-ml.pb.h protobuf classes and
// onnx::checker). An exporter that walks the model's modules, as torch.onnx would trace them: each
// layer becomes its ONNX operator (Conv, BatchNormalization in inference form, Relu, MaxPool, Add,
// GlobalAveragePool, Flatten, Gemm) with the weights as initializers named by their state_dict
// keys. Input "input" [batch, C, H, W] and output "logits" [batch, classes], batch dynamic.
// Supported so far: ResNet (BasicBlock and Bottleneck, ImageNet or CIFAR stem); other models are
// refused with an error naming their type.
#include <string>

#include "nn/module.h"

namespace tessera::experiments {

constexpr int kOnnxOpset = 17;

// Builds the model (eval-mode semantics), runs onnx::checker::check_model on it (full check) and
// writes it atomically. Throws std::invalid_argument for unsupported models, std::runtime_error
// naming the path when the checker refuses the graph or the file cannot be written.
void export_onnx(const std::string& path, const nn::Module& model);

}  // namespace tessera::experiments
