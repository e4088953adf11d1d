// The device field: every tensor knows where its memory lives; only the CPU backend is built, so
// asking for another device fails at allocation with a message naming it, never later in a kernel.
#include <gtest/gtest.h>

#include "core/device.h"
#include "core/factory.h"
#include "core/kernels/eltwise.h"

using namespace tessera;

TEST(Device, TensorsAreOnTheCpuAndViewsShareTheDevice) {
  Tensor t = randn({3, 4});
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.device().str(), "cpu");
  Tensor v = t.as_strided({4}, {1}, 4);
  EXPECT_EQ(v.device(), t.device());
  EXPECT_TRUE(kernels::add(t, t).device().is_cpu());
  EXPECT_EQ(zeros({2}, {.device = kCPU}).device(), kCPU);
}

TEST(Device, ParseAndPrintLikeTorch) {
  EXPECT_EQ(parse_device("cpu"), kCPU);
  EXPECT_EQ(parse_device("cuda").str(), "cuda");
  EXPECT_EQ(parse_device("cuda:1"), (Device{DeviceType::CUDA, 1}));
  EXPECT_EQ(parse_device("cuda:1").str(), "cuda:1");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CPU"}) {
    try {
      parse_device(bad);
      ADD_FAILURE() << bad << " parsed";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(Device, AllocatingOnAMissingBackendNamesTheDevice) {
  for (auto make : {+[] { return empty({2}, {.device = Device{DeviceType::CUDA, 0}}); },
                    +[] { return zeros({2}, {.device = Device{DeviceType::CUDA, 0}}); },
                    +[] { return randn({2}, {.device = Device{DeviceType::CUDA, -1}}); }}) {
    try {
      make();
      ADD_FAILURE() << "allocated on a device without a backend";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("only the CPU backend"), std::string::npos) << e.what();
    }
  }
}
