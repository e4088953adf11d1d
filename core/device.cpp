#include "core/device.h"

#include <stdexcept>

namespace tessera {

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return {};
  if (s == "cuda") return {DeviceType::CUDA, -1};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos)
    return {DeviceType::CUDA, std::stoi(s.substr(5))};
  throw std::invalid_argument("device: expected 'cpu', 'cuda' or 'cuda:<index>', got '" + s + "'");
}

void check_device_available(const Device& d, const char* what) {
  if (d.is_cpu()) return;
  throw std::runtime_error(std::string(what) + ": device " + d.str() +
                           " is not available: this build of Tessera has only the CPU backend");
}

}  // namespace tessera
