// The test guards of tests/testing/scoped_setting.h put a process-wide setting back however the scope ends:
// normally, or early (an exception here; a failing ASSERT_* returns the same way).
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

#include "core/kernels/matmul.h"
#include "core/threading.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using tessera::testing::ScopedEnv;
using tessera::testing::ScopedSetting;

TEST(ScopedSetting, RestoresTheValueItFoundWhenTheScopeEndsOrUnwinds) {
  const int threads = get_num_threads();
  {
    ScopedSetting one(get_num_threads, set_num_threads, 1);
    EXPECT_EQ(get_num_threads(), 1);
  }
  EXPECT_EQ(get_num_threads(), threads);
  EXPECT_THROW(([&] {
                 ScopedSetting saved(get_num_threads, set_num_threads);
                 set_num_threads(threads + 1);  // changed inside the scope, by the test itself
                 throw std::runtime_error("the test body left early");
               }()),
               std::runtime_error);
  EXPECT_EQ(get_num_threads(), threads);
  const auto backend = kernels::get_matmul_backend();
  const auto other = backend == kernels::MatmulBackend::OneDNN ? kernels::MatmulBackend::OpenBLAS
                                                                : kernels::MatmulBackend::OneDNN;
  EXPECT_THROW(([&] {
                 ScopedSetting s(kernels::get_matmul_backend, kernels::set_matmul_backend, other);
                 throw std::runtime_error("early");
               }()),
               std::runtime_error);
  EXPECT_EQ(kernels::get_matmul_backend(), backend);
}

TEST(ScopedEnv, SetsOrRemovesAVariableAndPutsItBack) {
  const char* name = "TESSERA_TEST_SCOPED_ENV";
  ::unsetenv(name);
  {
    ScopedEnv e(name, "a");
    EXPECT_STREQ(std::getenv(name), "a");
    e.set(std::nullopt);
    EXPECT_EQ(std::getenv(name), nullptr);
  }
  EXPECT_EQ(std::getenv(name), nullptr);  // absent before: absent again
  ::setenv(name, "before", 1);
  EXPECT_THROW(([&] {
                 ScopedEnv e(name, std::nullopt);
                 EXPECT_EQ(std::getenv(name), nullptr);
                 throw std::runtime_error("early");
               }()),
               std::runtime_error);
  EXPECT_STREQ(std::getenv(name), "before");
  ::unsetenv(name);
}
