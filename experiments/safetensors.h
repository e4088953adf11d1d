#pragma once
// Weights as safetensors (https://huggingface.co/docs/safetensors), the format model hubs use: an
// 8-byte little-endian header length, a JSON header {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "text"}} and the raw little-endian
// tensor bytes, offsets relative to the end of the header. Python: safetensors.torch.load_file.
#include <map>
#include <string>

#include "nn/module.h"

namespace tessera {

// Written atomically (write_atomically). Tensors keep their dtype, except bfloat16, written as F32
// like export_pytorch_h5 (bfloat16 bits are not reachable above core/); the data is 8-byte aligned.
void save_safetensors(const std::string& path, const nn::StateDict& sd,
                      const std::map<std::string, std::string>& metadata = {});

// Reads F64, F32, F16 (as float32), BF16, I64, I32, U8 and BOOL tensors. The header is checked
// before any data is used, with errors naming the file and the tensor: a header length past the
// file or over 100 MB, invalid JSON, unknown dtype, negative or overflowing shapes, offsets out of
// the data, overlapping or leaving gaps (as the safetensors library requires), and a byte size
// that disagrees with dtype x shape.
nn::StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace tessera
