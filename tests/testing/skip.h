#pragma once
// The two ways a test may skip. A plain GTEST_SKIP is not used anywhere else
// (tests/core/test_raw_pointer_rule.cpp checks), so every skip says which kind it is:
//
// - TESSERA_SKIP_WITHOUT_DATA: data a user brings (../shared/data: CIFAR-10, Kvasir-SEG, ...),
//   which a fresh machine cannot install. Always allowed, with a message naming the data.
// - TESSERA_SKIP_UNLESS_REQUIRED: anything `make test` installs (Debian's PyTorch stack, the
//   Fashion-MNIST package, python3, the source tree). Under `make test` (and so on CI), which sets
//   TESSERA_REQUIRE_TESTS=1, a missing requirement fails the test instead of hiding behind a skip.
//
// tests/testing/main.cpp exits with kSkipExitCode when a binary skipped tests and none failed, and
// ctest (SKIP_RETURN_CODE) reports it as skipped rather than passed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace tessera::testing {
constexpr int kSkipExitCode = 77;
inline bool tests_required() {
  const char* v = std::getenv("TESSERA_REQUIRE_TESTS");
  return v && std::strcmp(v, "0") != 0 && *v;
}
}  // namespace tessera::testing

#define TESSERA_SKIP_WITHOUT_DATA(what) GTEST_SKIP() << "needs " << what << ", which is not present: skipped"

#define TESSERA_SKIP_UNLESS_REQUIRED(why)                                                        \
  if (::tessera::testing::tests_required()) {                                                    \
    FAIL() << why << " (required: TESSERA_REQUIRE_TESTS is set, as `make test` and CI set it)"; \
  } else                                                                                         \
    GTEST_SKIP() << why
