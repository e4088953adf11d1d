// Data-parallel training (trainer.distributed) over both backends, each test starting its ranks
// itself: OpenMPI through mpirun, Gloo through a small launcher here (RANK, WORLD_SIZE and a fresh
// file store per run, like torchrun). The proofs of issue 12:
//   - 2 ranks x batch B/2 give the parameters of 1 process x batch B after K steps (float64 to
//     1e-12, float32 to float tolerance), with gradient accumulation, and the reducer sends each
//     step's gradients once (nothing on the non-final micro-batch);
//   - SyncBatchNorm over 2 ranks == BatchNorm over the concatenated batch (output, input and
//     parameter gradients, running statistics);
//   - the distributed sampler shards every global batch of the one-process plan;
//   - a 2-rank checkpoint resumes in 1 process exactly;
//   - a hung or dead rank stops the others with an error naming it; the last checkpoint loads.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/kernels/copy.h"
#include "data/dataloader.h"
#include "data/synthetic.h"
#include "experiments/checkpoint.h"
#include "nn/batchnorm.h"
#include "testing/skip.h"

namespace {

using namespace tessera;
namespace fs = std::filesystem;

bool on_path(const std::string& exe) { return std::system(("command -v " + exe + " >/dev/null 2>&1").c_str()) == 0; }

// OpenMPI in a container: as root, more ranks than cores allowed, shared memory between ranks and
// the launcher's own channel on the loopback interface (no network needed).
const std::vector<std::string> kMpiEnv = {
    "OMPI_ALLOW_RUN_AS_ROOT=1",          "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
    "OMPI_MCA_btl=self,vader",            "OMPI_MCA_btl_vader_single_copy_mechanism=none",
    "OMPI_MCA_rmaps_base_oversubscribe=1", "OMPI_MCA_oob_tcp_if_include=lo",
    "OMPI_MCA_pml=ob1",                   "OMPI_MCA_osc=^ucx",
    "OMPI_MCA_btl_base_warn_component_unused=0"};

struct Proc {
  pid_t pid = -1;
  int code = -1;  // exit status (128 + signal when killed)
  bool done = false;
  std::string log;
};

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    putenv(const_cast<char*>("OMP_NUM_THREADS=1"));
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct Launch {
  std::vector<int> codes;
  std::string output;
  double seconds = 0;  // until every process ended (or was killed)
  bool killed = false;  // the launcher's own deadline passed
  bool ok() const {
    for (int c : codes)
      if (c != 0) return false;
    return !codes.empty();
  }
};

// Waits for every process; once one fails the rest get `grace` seconds (torchrun's behaviour),
// and all are killed at `deadline`.
Launch wait_all(std::vector<Proc>& ps, double deadline, double grace = 3) {
  Launch l;
  const auto t0 = std::chrono::steady_clock::now();
  double failed_at = -1;
  for (;;) {
    bool all = true;
    for (auto& p : ps) {
      if (p.done) continue;
      int st = 0;
      if (waitpid(p.pid, &st, WNOHANG) == p.pid) {
        p.done = true;
        p.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (p.code != 0 && failed_at < 0) failed_at = now;
      } else {
        all = false;
      }
    }
    if (all) break;
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (now > deadline || (failed_at >= 0 && now > failed_at + grace)) {
      l.killed = now > deadline;
      for (auto& p : ps)
        if (!p.done) kill(-p.pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  l.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& p : ps) {
    l.codes.push_back(p.code);
    std::ifstream in(p.log);
    std::stringstream ss;
    ss << in.rdbuf();
    l.output += ss.str();
  }
  return l;
}

// n ranks of `args` over a backend.
Launch launch(const std::string& backend, int n, const std::vector<std::string>& args, const fs::path& dir,
              double deadline = 120) {
  static int counter = 0;
  const std::string tag = std::to_string(++counter);
  std::vector<Proc> ps;
  if (backend == "mpi") {
    std::vector<std::string> a = {"mpirun", "-np", std::to_string(n)};
    a.insert(a.end(), args.begin(), args.end());
    Proc p;
    p.log = (dir / ("mpirun" + tag + ".log")).string();
    p.pid = spawn(a, kMpiEnv, p.log);
    ps.push_back(p);
  } else {
    const fs::path store = dir / ("store" + tag);
    fs::remove_all(store);
    for (int r = 0; r < n; ++r) {
      Proc p;
      p.log = (dir / ("rank" + std::to_string(r) + "_" + tag + ".log")).string();
      p.pid = spawn(args, {"RANK=" + std::to_string(r), "WORLD_SIZE=" + std::to_string(n),
                           "TESSERA_GLOO_STORE=" + store.string()}, p.log);
      ps.push_back(p);
    }
  }
  return wait_all(ps, deadline);
}

Launch single(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<Proc> ps(1);
  ps[0].log = (dir / "single.log").string();
  ps[0].pid = spawn(args, {}, ps[0].log);
  return wait_all(ps, 120);
}

struct RunConfig {
  std::string dtype = "float64";
  std::string optimizer = "{name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01}";
  int64_t steps = 5, accumulate = 2, batch = 8, ckpt_every = 0;
  std::string distributed;  // "" : one process
  std::string model = "{name: mlp, in_features: 6, hidden: [16, 12], num_classes: 3, activation: tanh";
  std::string shape = "[6]";
  std::string optimizers;   // replaces optimizer when set
  std::string strategy;     // trainer.strategy
};

fs::path write_config(const fs::path& dir, const std::string& name, const RunConfig& c) {
  fs::create_directories(dir);
  const fs::path p = dir / (name + ".yaml");
  std::ofstream f(p);
  f << "model: " << c.model << ", dtype: " << c.dtype << "}\n"
    << "data:\n  batch_size: " << c.batch << "\n  seed: 3\n"
    << "  train: {dataset: {name: synthetic_classification, num_samples: 44, num_classes: 3, shape: " << c.shape
    << ", noise: 1.0, dtype: " << c.dtype << "}, shuffle: true}\n"
    << (c.optimizers.empty() ? "optimizer: " + c.optimizer : "optimizers: " + c.optimizers) << "\n"
    << "loss: {name: cross_entropy}\n"
    << "trainer: {max_steps: " << c.steps << ", accumulate: " << c.accumulate << ", seed: 5, threads: 1, log_every: 1, "
    << "ckpt_every: " << c.ckpt_every << ", plot: false, progress: none, output_dir: " << (dir / name / "run").string()
    << (c.distributed.empty() ? "" : ", distributed: " + c.distributed)
    << (c.strategy.empty() ? "" : ", strategy: " + c.strategy) << "}\n";
  return p;
}

fs::path last_ckpt(const fs::path& dir, const std::string& name) { return dir / name / "run" / "checkpoints" / "last.h5"; }

double max_param_diff(const fs::path& a, const fs::path& b) {
  auto ca = load_checkpoint(a.string()), cb = load_checkpoint(b.string());
  EXPECT_EQ(ca.step, cb.step);
  EXPECT_EQ(ca.model.size(), cb.model.size());
  double m = 0;
  for (const auto& [k, t] : ca.model) {
    if (!cb.model.contains(k)) {
      ADD_FAILURE() << "missing " << k;
      continue;
    }
    auto va = kernels::to_vector<double>(kernels::to_dtype(t, DType::Float64));
    auto vb = kernels::to_vector<double>(kernels::to_dtype(cb.model.at(k), DType::Float64));
    for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  }
  return m;
}

class DataParallel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "mpi" && !on_path("mpirun")) {
      TESSERA_SKIP_UNLESS_REQUIRED("mpirun (Debian openmpi-bin) is not installed");
    }
    dir_ = fs::temp_directory_path() / ("tessera_dp_" + GetParam() + "_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dist(double timeout = 60) const {
    char b[128];
    std::snprintf(b, sizeof b, "{backend: %s, bucket_mb: 0.0005, timeout_s: %g}", GetParam().c_str(), timeout);
    return b;
  }
  fs::path dir_;
};

// The same K steps in one process (batch 8) and on 2 ranks (4 each); the reducer's buckets are
// tiny (500 bytes) so that several are in flight during backward.
void expect_same_training(const std::string& backend, const fs::path& dir, RunConfig c, double tol, const std::string& dist) {
  const auto one = write_config(dir, "one", c);
  c.distributed = dist;
  const auto two = write_config(dir, "two", c);
  Launch s = single({TESSERA_CLI, "train", one.string()}, dir);
  ASSERT_TRUE(s.ok()) << s.output;
  Launch d = launch(backend, 2, {TESSERA_CLI, "train", two.string()}, dir);
  ASSERT_TRUE(d.ok()) << d.output;
  EXPECT_LE(max_param_diff(last_ckpt(dir, "one"), last_ckpt(dir, "two")), tol);
  // One all-reduce of every parameter per step: nothing was sent on the first micro-batch.
  std::ifstream log(dir / "two" / "run" / "metrics.jsonl");
  std::string line;
  int n = 0;
  auto ck = load_checkpoint(last_ckpt(dir, "two").string());
  double bytes = 0;
  for (const auto& [k, t] : ck.model) bytes += double(t.numel() * int64_t(dtype_size(t.dtype())));
  while (std::getline(log, line)) {
    auto at = line.find("\"comm_mb\":");
    if (at == std::string::npos) continue;
    EXPECT_NEAR(std::stod(line.substr(at + 10)), bytes / 1e6, 1e-9) << line;
    ++n;
  }
  EXPECT_EQ(n, c.steps) << "metrics.jsonl of the 2-rank run has no comm_mb on every step";
}

TEST_P(DataParallel, TwoRanksEqualOneProcessFloat64) {
  RunConfig c;
  expect_same_training(GetParam(), dir_, c, 1e-12, dist());
}

TEST_P(DataParallel, TwoRanksEqualOneProcessFloat32Adam) {
  RunConfig c;
  c.dtype = "float32";
  c.optimizer = "{name: adamw, lr: 0.01}";
  c.accumulate = 1;
  expect_same_training(GetParam(), dir_, c, 2e-6, dist());
}

// Gradient routing's two passes (gate optimizer on pass A, the rest on pass B, each pass's
// gradients averaged over the ranks) on a gated ResNet with SyncBatchNorm (model.sync_bn: the
// BatchNorm statistics of the global batch, so 2 ranks equal 1 process).
TEST_P(DataParallel, GradientRoutingWithSyncBatchNormEqualsOneProcess) {
  RunConfig c;
  c.model = "{name: hag_resnet, depth: 18, width: 4, cifar_stem: true, num_classes: 3, sync_bn: true";
  c.shape = "[3, 8, 8]";
  c.optimizers = "[{name: sgd, lr: 0.05, params: [\"*fsag*\"]}, {name: sgd, lr: 0.05, momentum: 0.9}]";
  c.strategy = "{name: gradient_routing, clip_gr: 2.0}";
  c.batch = 6;
  c.steps = 3;
  c.accumulate = 1;
  const auto one = write_config(dir_, "one", c);
  c.distributed = dist();
  const auto two = write_config(dir_, "two", c);
  Launch s = single({TESSERA_CLI, "train", one.string()}, dir_);
  ASSERT_TRUE(s.ok()) << s.output;
  Launch d = launch(GetParam(), 2, {TESSERA_CLI, "train", two.string()}, dir_);
  ASSERT_TRUE(d.ok()) << d.output;
  EXPECT_LE(max_param_diff(last_ckpt(dir_, "one"), last_ckpt(dir_, "two")), 1e-10);
}

std::map<std::string, std::vector<double>> read_fields(const fs::path& p) {
  std::map<std::string, std::vector<double>> r;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string name;
    ss >> name;
    double v;
    while (ss >> v) r[name].push_back(v);
  }
  return r;
}

void expect_syncbn_matches(const std::string& backend, const fs::path& dir, const std::string& dtype, double tol) {
  const std::string prefix = (dir / ("bn_" + dtype)).string();
  Launch d = launch(backend, 2, {TESSERA_DP_WORKER, "syncbn", backend, dtype, prefix}, dir);
  ASSERT_TRUE(d.ok()) << d.output;
  // One process: BatchNorm2d on the whole batch, the same inputs as dp_worker syncbn builds.
  const DType dt = dtype == "float64" ? DType::Float64 : DType::Float32;
  Generator g(7);
  const int64_t n = 6, c = 3;
  Tensor x_all = kernels::to_dtype(add(mul(randn({n, c, 4, 5}, {}, &g), 2.0), 0.5), dt);
  Tensor up_all = kernels::to_dtype(randn({n, c, 4, 5}, {}, &g), dt);
  nn::BatchNorm2d bn(c, {.dtype = dt});
  {
    NoGradGuard ng;
    kernels::copy_(bn.weight, randn({c}, {}, &g));
    kernels::copy_(bn.bias, randn({c}, {}, &g));
  }
  Tensor x = kernels::clone(x_all).set_requires_grad(true);
  Tensor y;
  for (int it = 0; it < 2; ++it) {
    bn.zero_grad();
    x.set_grad(Tensor());
    y = bn.forward(x);
    backward(sum(mul(y, up_all)));
  }
  auto r0 = read_fields(prefix + ".0.txt"), r1 = read_fields(prefix + ".1.txt");
  auto vec = [](const Tensor& t) { return kernels::to_vector<double>(kernels::to_dtype(kernels::contiguous(t.detach()), DType::Float64)); };
  auto expect_close = [&](const std::vector<double>& got, const std::vector<double>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << "[" << i << "]";
  };
  // Per-sample fields: rank 0 holds samples 0..2, rank 1 samples 3..5.
  for (const char* f : {"y", "dx"}) {
    std::vector<double> cat = r0[f];
    cat.insert(cat.end(), r1[f].begin(), r1[f].end());
    expect_close(cat, vec(std::string(f) == "y" ? y : x.grad()), f);
  }
  // Parameter gradients: each rank holds its own batch's part (the data-parallel reducer sums them).
  for (const char* f : {"dw", "db"}) {
    std::vector<double> total(r0[f].size());
    for (size_t i = 0; i < total.size(); ++i) total[i] = r0[f][i] + r1[f][i];
    expect_close(total, vec(std::string(f) == "dw" ? bn.weight.grad() : bn.bias.grad()), f);
  }
  for (const char* f : {"running_mean", "running_var"}) {
    expect_close(r0[f], vec(std::string(f) == "running_mean" ? bn.running_mean : bn.running_var), f);
    expect_close(r1[f], r0[f], f);
  }
}

TEST_P(DataParallel, SyncBatchNormEqualsBatchNormOnTheWholeBatch) {
  expect_syncbn_matches(GetParam(), dir_, "float64", 1e-12);
  expect_syncbn_matches(GetParam(), dir_, "float32", 2e-5);
}

TEST_P(DataParallel, ResumeTwoRanksOntoOneProcess) {
  RunConfig c;
  c.steps = 6;
  const auto ref = write_config(dir_, "ref", c);
  Launch s = single({TESSERA_CLI, "train", ref.string()}, dir_);
  ASSERT_TRUE(s.ok()) << s.output;
  RunConfig first = c;
  first.steps = 3;
  first.distributed = dist();
  const auto two = write_config(dir_, "two", first);
  Launch d = launch(GetParam(), 2, {TESSERA_CLI, "train", two.string()}, dir_);
  ASSERT_TRUE(d.ok()) << d.output;
  const auto one = write_config(dir_, "one", c);  // the rest in one process
  Launch r = single({TESSERA_CLI, "train", one.string(), "--resume", last_ckpt(dir_, "two").string()}, dir_);
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_LE(max_param_diff(last_ckpt(dir_, "ref"), last_ckpt(dir_, "one")), 1e-12);
}

// Rank 1 stops answering after step 2 (a hang) or exits (a death): rank 0 stops with an error
// naming rank 1 instead of waiting forever, and the checkpoint of step 2 loads.
void expect_stops_naming_rank1(const std::string& backend, const fs::path& dir, const std::string& fault, const std::string& dist) {
  RunConfig c;
  c.steps = 50;
  c.ckpt_every = 1;
  c.accumulate = 1;
  c.distributed = dist;
  const auto cfg = write_config(dir, "fault", c);
  Launch d = launch(backend, 2,
                    {TESSERA_DP_WORKER, "train", cfg.string(), "--fault", fault, "--fault-rank", "1", "--fault-step", "2"},
                    dir, /*deadline=*/60);
  EXPECT_FALSE(d.killed) << "the ranks were still running at the launcher's deadline:\n" << d.output;
  EXPECT_FALSE(d.ok());
  if (fault == "hang" || backend == "gloo")
    EXPECT_NE(d.output.find("rank 1 is dead or hung"), std::string::npos) << d.output;
  else  // mpirun stops the job itself when a rank exits, naming it: "Process name: [[7634,1],1]"
    EXPECT_NE(d.output.find("],1]\n  Exit code:    3"), std::string::npos) << d.output;
  auto ck = load_checkpoint(last_ckpt(dir, "fault").string());
  EXPECT_GE(ck.step, 2);
  EXPECT_LE(ck.step, 3);
}

TEST_P(DataParallel, HungRankStopsTheOthersWithinTheTimeout) {
  expect_stops_naming_rank1(GetParam(), dir_, "hang", dist(/*timeout=*/3));
}

TEST_P(DataParallel, DeadRankStopsTheOthers) {
  expect_stops_naming_rank1(GetParam(), dir_, "die", dist(/*timeout=*/3));
}

INSTANTIATE_TEST_SUITE_P(Backends, DataParallel, ::testing::Values("mpi", "gloo"),
                         [](const auto& info) { return info.param; });

// The distributed sampler: for 2 and 3 ranks every global batch of the one-process plan (same seed
// and epoch, shuffled, with a partial last batch) is the concatenation of the ranks' batches, with
// the same tensors.
TEST(DistributedSampler, ShardsEveryGlobalBatchOfTheOneProcessPlan) {
  data::SyntheticClassificationOptions so;
  so.num_samples = 23;
  so.shape = {2};
  auto ds = std::make_shared<data::SyntheticClassification>(so);
  data::DataLoaderOptions lo;
  lo.batch_size = 5;
  lo.shuffle = true;
  lo.seed = 11;
  data::DataLoader whole(ds, lo);
  for (int64_t world : {2, 3}) {
    std::vector<std::unique_ptr<data::DataLoader>> shards;
    for (int64_t r = 0; r < world; ++r) {
      auto o = lo;
      o.shard_rank = r;
      o.shard_count = world;
      shards.push_back(std::make_unique<data::DataLoader>(ds, o));
    }
    for (int64_t epoch : {0, 1}) {
      whole.set_epoch(epoch);
      for (auto& s : shards) s->set_epoch(epoch);
      ASSERT_EQ(whole.num_batches(), 5);
      for (int64_t b = 0; b < whole.num_batches(); ++b) {
        data::Batch g = whole.batch(b);
        std::vector<int64_t> joined;
        std::vector<float> xs;
        for (auto& s : shards) {
          EXPECT_EQ(s->num_batches(), whole.num_batches());
          EXPECT_EQ(s->global_batch_size(b), g.size());
          data::Batch p = s->batch(b);
          EXPECT_GE(p.size(), 1);
          joined.insert(joined.end(), p.indices.begin(), p.indices.end());
          auto v = kernels::to_vector<float>(p.at("image"));
          xs.insert(xs.end(), v.begin(), v.end());
        }
        EXPECT_EQ(joined, g.indices) << "world " << world << " epoch " << epoch << " batch " << b;
        EXPECT_EQ(xs, kernels::to_vector<float>(g.at("image")));
      }
    }
  }
  // 4 ranks cannot share the last batch of 3 samples: the error says so.
  auto o = lo;
  o.shard_rank = 0;  // its slice of the last batch, [0 * 3 / 4, 1 * 3 / 4), is empty
  o.shard_count = 4;
  data::DataLoader bad(ds, o);
  try {
    bad.batch(4);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than the 4 data-parallel ranks"), std::string::npos) << e.what();
  }
}

}  // namespace
