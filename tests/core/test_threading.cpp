// parallel_for (core/threading.h): chunks cover [0, n) exactly once, small jobs run inline, and the
// OpenMP team is never shrunk: libgomp ends the threads a smaller team leaves out and creates them
// again for the next full-size region (oneDNN's), which cost each bf16 linear on a 16-core host ~1 ms.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/threading.h"

using namespace tessera;

namespace {
struct ThreadCount {
  explicit ThreadCount(int n) : saved(get_num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved); }
  int saved;
};
}  // namespace

TEST(Threading, ChunksCoverTheRangeOnce) {
  ThreadCount four(4);
  for (int64_t n : {1, 7, 100, 1001}) {
    for (int64_t grain : {1, 10, 300, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " grain=" << grain;
    }
  }
}

TEST(Threading, JobsBelowTheGrainRunInlineOnTheCallingThread) {
  ThreadCount four(4);
  const long caller = long(syscall(SYS_gettid));
  int calls = 0;
  long ran_on = 0;
  bool in_parallel = true;
  int64_t b0 = -1, e0 = -1;
  parallel_for(99, 100, [&](int64_t b, int64_t e) {
    ++calls;
    ran_on = long(syscall(SYS_gettid));
    in_parallel = omp_in_parallel() != 0;
    b0 = b, e0 = e;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, caller);
  EXPECT_FALSE(in_parallel);
  EXPECT_EQ(b0, 0);
  EXPECT_EQ(e0, 99);
}

TEST(Threading, SmallJobsKeepTheTeamAlive) {
  // Two-chunk jobs between full-team regions: the full team's threads must be the same ones each
  // time (with num_threads(chunks) libgomp re-created them: 102 thread ids in these 50 rounds of 4).
  ThreadCount four(4);
  std::mutex mu;
  std::set<long> ids;
  for (int round = 0; round < 50; ++round) {
#pragma omp parallel
    {
      const long id = long(syscall(SYS_gettid));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(id);
    }
    parallel_for(2, 1, [](int64_t, int64_t) {});
  }
  EXPECT_LE(ids.size(), 4u) << "full-team regions ran on " << ids.size() << " different threads";
}

TEST(Threading, ChunkBoundsDependOnlyOnTheSizeAndThreadCount) {
  // min(kChunksPerThread x threads, ceil(n / grain)) chunks at n * c / chunks, whichever thread runs them.
  ThreadCount four(4);
  for (int64_t n : {5, 16, 100, 1001}) {
    for (int64_t grain : {1, 7, 60}) {
      if (n < grain) continue;
      const int64_t chunks = std::min<int64_t>(4 * kChunksPerThread, (n + grain - 1) / grain);
      std::mutex mu;
      std::set<std::pair<int64_t, int64_t>> seen;
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(mu);
        seen.insert({b, e});
      });
      std::set<std::pair<int64_t, int64_t>> want;
      for (int64_t c = 0; c < chunks; ++c)
        if (n * c / chunks < n * (c + 1) / chunks) want.insert({n * c / chunks, n * (c + 1) / chunks});
      EXPECT_EQ(seen, want) << "n=" << n << " grain=" << grain;
    }
  }
}

TEST(Threading, ASlowThreadsChunksAreTakenByTheOthers) {
  // The thread that gets chunk 0 stalls there for 300 ms; the other three run every chunk left,
  // including the rest of the stalled thread's own run (a static split would leave them to it), so
  // it finds none when it wakes.
  ThreadCount four(4);
  const int64_t n = 4 * kChunksPerThread;  // one element per chunk
  std::atomic<long> stalled{0};
  std::atomic<bool> woke{false};
  std::atomic<int> after_wake{0}, runs{0};
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    const long id = long(syscall(SYS_gettid));
    runs += int(e - b);
    if (woke && id == stalled) ++after_wake;
    if (b == 0) {
      stalled = id;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      woke = true;
    }
  });
  EXPECT_EQ(runs.load(), n);
  EXPECT_EQ(after_wake.load(), 0) << "chunks waited for the stalled thread";
}
