// Helper program of test_data_parallel (and of the all-reduce bandwidth measurement in the README):
// one rank of a data-parallel run, started by mpirun or by the test's Gloo launcher.
//
//   dp_worker train CONFIG [--resume CKPT] [--fault hang|die --fault-rank R --fault-step S]
//       trains like `tessera train`; the fault makes rank R hang (sleep forever) or die (exit 3)
//       right after its optimizer step S.
//   dp_worker syncbn BACKEND DTYPE OUT_PREFIX
//       BatchNorm2d with model.sync_bn semantics on this rank's slice of a fixed global batch;
//       writes OUT_PREFIX.<rank>.txt (output, input gradient, weight/bias gradients, running stats)
//       for the test to compare with one process's BatchNorm on the whole batch.
//   dp_worker bandwidth BACKEND MB... 
//       sum all-reduce of float32 buffers of these sizes; prints the time and bus bandwidth.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/kernels/copy.h"
#include "experiments/config.h"
#include "experiments/distributed/data_parallel.h"
#include "experiments/trainer.h"
#include "nn/batchnorm.h"
#include "nn/sync_batch_norm.h"

using namespace tessera;
using namespace tessera::experiments;

namespace {

int train(int argc, char** argv) {
  std::string cfg_path = argv[2], resume, fault;
  int64_t fault_rank = -1, fault_step = -1;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--resume") resume = argv[i + 1];
    else if (a == "--fault") fault = argv[i + 1];
    else if (a == "--fault-rank") fault_rank = std::stoll(argv[i + 1]);
    else if (a == "--fault-step") fault_step = std::stoll(argv[i + 1]);
    else throw std::invalid_argument("dp_worker train: unknown option " + a);
  }
  TrainerOptions o;
  o.quiet = true;
  if (!resume.empty()) o.resume = resume;
  Trainer t(config::load(cfg_path, {}), o);
  t.on_step_end = [&](Trainer& tr, int64_t step, const StepResult&) {
    if (tr.rank() != fault_rank || step != fault_step) return;
    if (fault == "die") _exit(3);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // hung: never reaches a collective again
  };
  FitResult r = t.fit();
  if (t.is_main_process()) std::printf("finished %lld steps\n", (long long)r.steps);
  return 0;
}

int syncbn(char** argv) {
  DistributedOptions o;
  o.backend = argv[2];
  o.timeout_s = 60;
  const DType dt = std::string(argv[3]) == "float64" ? DType::Float64 : DType::Float32;
  const std::string prefix = argv[4];
  auto group = init_process_group(o);
  const int r = group->rank(), w = group->size();
  // The global batch, its upstream gradient and the affine parameters: the same on every rank.
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
  nn::convert_sync_batchnorm(bn, group);
  const int64_t lo = r * n / w, hi = (r + 1) * n / w;
  Tensor x = kernels::clone(narrow(x_all, 0, lo, hi - lo)).set_requires_grad(true);
  Tensor y;
  for (int it = 0; it < 2; ++it) {  // two steps: the running statistics are updated twice
    bn.zero_grad();
    x.set_grad(Tensor());
    y = bn.forward(x);
    backward(sum(mul(y, narrow(up_all, 0, lo, hi - lo))));
  }
  std::ofstream out(prefix + "." + std::to_string(r) + ".txt");
  out.precision(17);
  auto put = [&](const char* name, const Tensor& t) {
    out << name;
    for (double v : kernels::to_vector<double>(kernels::to_dtype(kernels::contiguous(t.detach()), DType::Float64)))
      out << " " << v;
    out << "\n";
  };
  put("y", y);
  put("dx", x.grad());
  put("dw", bn.weight.grad());
  put("db", bn.bias.grad());
  put("running_mean", bn.running_mean);
  put("running_var", bn.running_var);
  return out.good() ? 0 : 1;
}

int bandwidth(int argc, char** argv) {
  DistributedOptions o;
  o.backend = argv[2];
  o.timeout_s = 120;
  auto group = init_process_group(o);
  const double w = group->size();
  for (int i = 3; i < argc; ++i) {
    const double mb = std::stod(argv[i]);
    Tensor t = ones({int64_t(mb * 1e6 / 4)}, {});
    group->all_reduce(t);  // warm-up
    const int iters = mb >= 64 ? 5 : 20;
    group->barrier();
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < iters; ++k) group->all_reduce(t);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    // Bus bandwidth (NCCL tests' convention): a ring moves 2 (N - 1) / N of the buffer per rank.
    if (group->rank() == 0)
      std::printf("%s ranks %d size_mb %.2f time_ms %.3f algbw_gbs %.3f busbw_gbs %.3f\n", group->backend().c_str(),
                  group->size(), mb, s * 1e3, mb / 1e3 / s, mb / 1e3 / s * 2 * (w - 1) / w);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "train" && argc >= 3) return train(argc, argv);
    if (mode == "syncbn" && argc == 5) return syncbn(argv);
    if (mode == "bandwidth" && argc >= 4) return bandwidth(argc, argv);
    std::fprintf(stderr, "usage: dp_worker train CONFIG [...] | syncbn BACKEND DTYPE PREFIX | bandwidth BACKEND MB...\n");
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "dp_worker: error: %s\n", e.what());
    return 1;
  }
}
