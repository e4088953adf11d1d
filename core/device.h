#pragma once
// Where a tensor's memory lives. Only the CPU backend exists today; the field is here so that a
// GPU backend is an addition behind core/kernels, not a rewrite of every tensor-handling layer:
// storage records its device, factories take one in TensorOptions, and an op on a device whose
// backend is not built fails at allocation with a message naming the device.
#include <cstdint>
#include <string>

namespace tessera {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = -1;  // -1: the current device of that type (as torch.device("cuda"))
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda", "cuda:1" (torch's spelling)
};

inline constexpr Device kCPU{};

// "cpu", "cuda", "cuda:N"; anything else is std::invalid_argument naming the string.
Device parse_device(const std::string& s);
// Throws std::runtime_error unless this build has a backend for `d` (today: CPU only).
void check_device_available(const Device& d, const char* what);

}  // namespace tessera
