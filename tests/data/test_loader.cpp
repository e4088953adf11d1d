// Collate, samplers and DataLoader determinism (worker count and timing must not matter).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/factory.h"
#include "data/dataloader.h"
#include "data/random.h"
#include "data/transforms.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::data;

namespace {

// Synthetic images whose pixels encode the index; get() sleeps a little, varying by index, so
// that workers finish out of order.
class SlowImages : public Dataset {
 public:
  explicit SlowImages(int64_t n, bool sleep = true) : n_(n), sleep_(sleep) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    check_index(i, "SlowImages");
    if (sleep_) std::this_thread::sleep_for(std::chrono::microseconds(100 * ((i * 7) % 5)));
    calls++;
    Example e;
    Tensor img = empty({3, 8, 8});
    for (int64_t k = 0; k < img.numel(); ++k) img.data_ptr<float>()[k] = float((i * 31 + k) % 97) / 97.0f;
    e.tensors["image"] = img;
    e.tensors["label"] = scalar_tensor(double(i % 4), {.dtype = DType::Int64});
    e.meta["name"] = "item" + std::to_string(i);
    return e;
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_;
  bool sleep_;
};

Transform augment() {
  return compose({RandomCrop({.height = 6, .width = 6, .padding = 1}), RandomHorizontalFlip(0.5),
                  ColorJitter({.brightness = 0.3, .contrast = 0.3}), GaussianNoise(0.0, 0.05)});
}

std::vector<Batch> run_epoch(const DataLoader& dl) {
  std::vector<Batch> out;
  for (const Batch& b : dl) out.push_back(b);
  return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices);
    EXPECT_EQ(a[i].meta, b[i].meta);
    for (const auto& [k, t] : a[i].tensors) EXPECT_TRUE(test::allclose(t, b[i].at(k), 0, 0)) << "batch " << i << " " << k;
  }
}

}  // namespace

TEST(Collate, StacksByNameAndNamesTheBadField) {
  Example a, b;
  a.tensors["x"] = ones({2, 3});
  a.tensors["y"] = scalar_tensor(1, {.dtype = DType::Int64});
  a.meta["id"] = "a";
  b.tensors["x"] = zeros({2, 3});
  b.tensors["y"] = scalar_tensor(2, {.dtype = DType::Int64});
  Batch bt = collate({a, b}, {5, 9});
  EXPECT_EQ(bt.at("x").shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(bt.at("y").shape(), (Shape{2}));
  EXPECT_EQ(bt.at("y").dtype(), DType::Int64);
  EXPECT_EQ(get_value(bt.at("y"), 1), 2.0);
  EXPECT_EQ(get_value(bt.at("x"), 0), 1.0);
  EXPECT_EQ(get_value(bt.at("x"), 6), 0.0);
  EXPECT_EQ(bt.meta["id"], (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(bt.indices, (std::vector<int64_t>{5, 9}));
  b.tensors["x"] = zeros({3, 3});
  try {
    collate({a, b});
    FAIL();
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'x'"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  }
  b.tensors.erase("x");
  EXPECT_THROW(collate({a, b}), std::invalid_argument);
  EXPECT_THROW(collate({}), std::invalid_argument);
}

TEST(Samplers, SequentialAndRandom) {
  EXPECT_EQ(SequentialSampler(4).indices(3), (std::vector<int64_t>{0, 1, 2, 3}));
  RandomSampler r(50, 7);
  auto e0 = r.indices(0), e0b = r.indices(0), e1 = r.indices(1);
  EXPECT_EQ(e0, e0b);
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, RandomSampler(50, 8).indices(0));
  auto s = e0;
  std::sort(s.begin(), s.end());
  EXPECT_EQ(s, SequentialSampler(50).indices(0));
}

TEST(Samplers, ClassBalancedKPerClass) {
  // Imbalanced labels: class 0 has 20 items, class 1 has 5, class 2 has 2.
  std::vector<int64_t> labels;
  for (int i = 0; i < 20; ++i) labels.push_back(0);
  for (int i = 0; i < 5; ++i) labels.push_back(1);
  for (int i = 0; i < 2; ++i) labels.push_back(2);
  std::shuffle(labels.begin(), labels.end(), std::mt19937(3));
  ClassBalancedSampler s(labels, 4, 99);
  EXPECT_EQ(s.size(), 12);
  std::set<int64_t> seen_class0;
  for (int64_t ep = 0; ep < 5; ++ep) {
    auto idx = s.indices(ep);
    ASSERT_EQ(int64_t(idx.size()), 12);
    std::map<int64_t, std::vector<int64_t>> per;
    for (int64_t i : idx) per[labels[size_t(i)]].push_back(i);
    for (auto& [c, v] : per) {
      EXPECT_EQ(v.size(), 4u) << "class " << c;
      if (c != 2) {  // classes with >= k items: no repeats within an epoch
        std::set<int64_t> u(v.begin(), v.end());
        EXPECT_EQ(u.size(), 4u);
      } else {  // class 2 has 2 items: both, each twice
        std::sort(v.begin(), v.end());
        EXPECT_EQ(v[0], v[1]);
        EXPECT_EQ(v[2], v[3]);
        EXPECT_NE(v[0], v[2]);
      }
      if (c == 0) seen_class0.insert(v.begin(), v.end());
    }
    EXPECT_EQ(idx, s.indices(ep));  // pure function of epoch
  }
  EXPECT_GT(seen_class0.size(), 8u);  // different epochs draw different members
  EXPECT_THROW(ClassBalancedSampler(labels, 0, 1), std::invalid_argument);
}

TEST(Samplers, PerGroupNItemsPerGroup) {
  std::vector<std::string> polyp = {"p2", "p1", "p1", "p3", "p2", "p1", "p3", "p3", "p3", "p1"};
  auto gid = group_ids(polyp);
  EXPECT_EQ(gid[0], 1);
  EXPECT_EQ(gid[1], 0);
  PerGroupSampler s(gid, 2, 5, /*shuffle=*/false);
  EXPECT_EQ(s.num_groups(), 3);
  auto idx = s.indices(0);
  ASSERT_EQ(idx.size(), 6u);
  // Unshuffled: grouped in group order, two distinct frames each.
  for (size_t k = 0; k < 6; k += 2) {
    EXPECT_EQ(gid[size_t(idx[k])], int64_t(k / 2));
    EXPECT_EQ(gid[size_t(idx[k + 1])], int64_t(k / 2));
    EXPECT_NE(idx[k], idx[k + 1]);
  }
  PerGroupSampler sh(gid, 2, 5, true);
  auto a = sh.indices(1);
  std::map<int64_t, int> count;
  for (int64_t i : a) count[gid[size_t(i)]]++;
  EXPECT_EQ(count, (std::map<int64_t, int>{{0, 2}, {1, 2}, {2, 2}}));
}

TEST(Samplers, DistributedShardsLikeTorch) {
  // n = 10, world 3, no shuffle: padded to 12 by repeating the head: [0..9, 0, 1].
  std::vector<std::vector<int64_t>> shards;
  for (int r = 0; r < 3; ++r) shards.push_back(DistributedSampler(10, r, 3, false).indices(0));
  EXPECT_EQ(shards[0], (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(shards[1], (std::vector<int64_t>{1, 4, 7, 0}));
  EXPECT_EQ(shards[2], (std::vector<int64_t>{2, 5, 8, 1}));
  // drop_last: 9 samples, 3 each.
  EXPECT_EQ(DistributedSampler(10, 1, 3, false, 0, true).indices(0), (std::vector<int64_t>{1, 4, 7}));
  // Shuffled: the shards partition one permutation (identical on every rank), change per epoch.
  for (int64_t ep : {0, 1}) {
    std::vector<int64_t> all;
    for (int r = 0; r < 4; ++r) {
      auto s = DistributedSampler(16, r, 4, true, 42).indices(ep);
      EXPECT_EQ(s.size(), 4u);
      all.insert(all.end(), s.begin(), s.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, SequentialSampler(16).indices(0));
  }
  EXPECT_NE(DistributedSampler(16, 0, 4, true, 42).indices(0), DistributedSampler(16, 0, 4, true, 42).indices(1));
  // More padding than one copy (n = 2, world 5).
  EXPECT_EQ(DistributedSampler(2, 4, 5, false).indices(0), (std::vector<int64_t>{0}));
  // Wrapping a class-balanced sampler.
  auto cb = std::make_shared<ClassBalancedSampler>(std::vector<int64_t>{0, 0, 1, 1, 2, 2}, 2, 1);
  EXPECT_EQ(DistributedSampler(cb, 0, 2).size(), 3);
  EXPECT_THROW(DistributedSampler(10, 3, 3), std::invalid_argument);
}

TEST(DataLoader, BatchesAndDropLast) {
  auto ds = std::make_shared<SlowImages>(10, false);
  DataLoader dl(ds, {.batch_size = 4});
  EXPECT_EQ(dl.num_batches(), 3);
  auto bs = run_epoch(dl);
  ASSERT_EQ(bs.size(), 3u);
  EXPECT_EQ(bs[2].size(), 2);
  EXPECT_EQ(bs[0].at("image").shape(), (Shape{4, 3, 8, 8}));
  EXPECT_EQ(bs[1].indices, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(bs[1].meta.at("name")[0], "item4");
  DataLoader dd(ds, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(run_epoch(dd).size(), 2u);
  // Shuffle: every index once per epoch, the order changes with the epoch.
  DataLoader sh(ds, {.batch_size = 3, .shuffle = true, .seed = 5});
  auto e0 = run_epoch(sh);
  sh.set_epoch(1);
  auto e1 = run_epoch(sh);
  std::vector<int64_t> i0, i1;
  for (auto& b : e0) i0.insert(i0.end(), b.indices.begin(), b.indices.end());
  for (auto& b : e1) i1.insert(i1.end(), b.indices.begin(), b.indices.end());
  EXPECT_NE(i0, i1);
  std::sort(i0.begin(), i0.end());
  EXPECT_EQ(i0, SequentialSampler(10).indices(0));
}

TEST(DataLoader, IdenticalAcrossWorkerCountsIncludingAugmentation) {
  auto ds = std::make_shared<SlowImages>(37);
  std::vector<std::vector<Batch>> runs;
  for (int nw : {0, 1, 3}) {
    DataLoader dl(ds, {.batch_size = 5, .shuffle = true, .seed = 123, .num_workers = nw, .prefetch_factor = 2}, augment());
    dl.set_epoch(2);
    runs.push_back(run_epoch(dl));
  }
  expect_same(runs[0], runs[1]);
  expect_same(runs[0], runs[2]);
  // Augmentation really happened and depends on the epoch.
  DataLoader e3(ds, {.batch_size = 5, .shuffle = true, .seed = 123, .num_workers = 2}, augment());
  e3.set_epoch(2);
  expect_same(runs[0], run_epoch(e3));
  Batch b = e3.batch(1);
  EXPECT_EQ(b.at("image").shape(), (Shape{5, 3, 6, 6}));
  // Same sample in another epoch gets a different augmentation.
  DataLoader seq(ds, {.batch_size = 37, .seed = 1}, augment());
  Batch s0 = seq.batch(0);
  seq.set_epoch(1);
  Batch s1 = seq.batch(0);
  EXPECT_FALSE(test::allclose(s0.at("image"), s1.at("image"), 0, 1e-3));
}

TEST(DataLoader, BoundedPrefetchAndEarlyStop) {
  auto ds = std::make_shared<SlowImages>(200, false);
  DataLoader dl(ds, {.batch_size = 2, .num_workers = 2, .prefetch_factor = 2});
  {
    auto pass = dl.start();
    auto b = pass->next();
    ASSERT_TRUE(b.has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // At most 1 consumed + 2 * 2 in flight batches were built: 10 examples.
    EXPECT_LE(ds->calls.load(), 10);
  }  // destroying the pass stops the workers
  const int64_t after = ds->calls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ds->calls.load(), after);
}

TEST(DataLoader, WorkerErrorsReachTheConsumer) {
  class Bad : public Dataset {
   public:
    int64_t size() const override { return 8; }
    Example get(int64_t i) const override {
      if (i == 5) throw std::runtime_error("broken.jpg: corrupt");
      Example e;
      e.tensors["x"] = scalar_tensor(double(i));
      return e;
    }
  };
  for (int nw : {0, 2}) {
    DataLoader dl(std::make_shared<Bad>(), {.batch_size = 2, .num_workers = nw});
    auto pass = dl.start();
    EXPECT_TRUE(pass->next().has_value());
    EXPECT_TRUE(pass->next().has_value());
    try {
      pass->next();
      FAIL() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos);
    }
    EXPECT_TRUE(pass->next().has_value());
    EXPECT_FALSE(pass->next().has_value());
  }
}

// Issue 15 item 4: a worker thread that cannot be spawned (here: address space for its stack
// exhausted) used to leave the started threads joinable, and std::terminate aborted the process.
// Now the started workers are joined and a clear error is thrown.
TEST(DataLoaderDeathTest, FailedWorkerSpawnJoinsStartedThreadsAndThrows) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DataLoader dl(std::make_shared<SlowImages>(64, false), {.batch_size = 2, .num_workers = 2000});
        long pages = 0;
        std::ifstream("/proc/self/statm") >> pages;
        const rlim_t vm = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE));
        rlimit lim{};
        getrlimit(RLIMIT_AS, &lim);
        lim.rlim_cur = vm + (rlim_t(256) << 20);  // 2000 thread stacks of 8 MiB cannot fit
        if (setrlimit(RLIMIT_AS, &lim) != 0) std::exit(3);
        try {
          auto pass = dl.start();
          std::fprintf(stderr, "all workers started\n");
          std::exit(2);
        } catch (const std::runtime_error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::exit(0);
        }
      },
      ::testing::ExitedWithCode(0), "DataLoader: cannot start worker thread [0-9]+ of 2000");
}

TEST(DataLoader, SamplerDrivesOrder) {
  auto ds = std::make_shared<SlowImages>(12, false);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 12; ++i) labels.push_back(i % 4);
  auto cb = std::make_shared<ClassBalancedSampler>(labels, 2, 3);
  DataLoader dl(ds, {.batch_size = 4, .num_workers = 2}, {}, cb);
  auto bs = run_epoch(dl);
  ASSERT_EQ(bs.size(), 2u);
  std::map<int64_t, int> per;
  for (auto& b : bs)
    for (int64_t k = 0; k < b.size(); ++k) per[int64_t(get_value(b.at("label"), k))]++;
  EXPECT_EQ(per, (std::map<int64_t, int>{{0, 2}, {1, 2}, {2, 2}, {3, 2}}));
  EXPECT_THROW(DataLoader(ds, {.batch_size = 0}), std::invalid_argument);
}
