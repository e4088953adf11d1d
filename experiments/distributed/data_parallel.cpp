#include "experiments/distributed/data_parallel.h"

#include <cstdlib>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "distributed/gloo_process_group.h"
#include "distributed/mpi_process_group.h"

namespace tessera::experiments {

void visit_options(DistributedOptions& o, OptionVisitor& v) {
  v.choice("backend", o.backend, {"mpi", "gloo"},
           "mpi: launch with mpirun -np N; gloo: one process per rank with RANK, WORLD_SIZE and a file store");
  v("bucket_mb", o.bucket_mb, "gradient bucket size in MB (all-reduces start as buckets fill during backward)");
  v("timeout_s", o.timeout_s, "seconds a collective may wait for a dead or hung rank before the run stops");
  v("store", o.store, "gloo: rendezvous directory every rank can reach (default: $TESSERA_GLOO_STORE)");
}

void validate_options(const DistributedOptions& o) {
  if (!(o.bucket_mb > 0)) throw OptionError("bucket_mb", "a number of megabytes > 0");
  if (!(o.timeout_s > 0)) throw OptionError("timeout_s", "a number of seconds > 0");
}

namespace {

int env_int(const char* name, const std::string& why) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::invalid_argument("trainer.distributed: environment variable " + std::string(name) +
                                             " is not set (" + why + ")");
  char* end = nullptr;
  long r = std::strtol(v, &end, 10);
  if (*end != 0 || r < 0) throw std::invalid_argument(std::string(name) + "='" + v + "': expected an integer >= 0");
  return int(r);
}

std::string env_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// MPI may be initialised once per process: the group lives until the process exits.
std::shared_ptr<distributed::ProcessGroup> mpi_group(double timeout_s) {
  static std::shared_ptr<distributed::ProcessGroup> g;
  if (!g) g = distributed::make_mpi_process_group(timeout_s);
  return g;
}

}  // namespace

std::shared_ptr<distributed::ProcessGroup> init_process_group(const DistributedOptions& o) {
  if (o.backend == "mpi") {
    auto g = mpi_group(o.timeout_s);
    const char* ws = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (ws && std::atoi(ws) != g->size())
      throw std::runtime_error("distributed (mpi): OMPI_COMM_WORLD_SIZE=" + std::string(ws) + " but MPI reports " +
                               std::to_string(g->size()) + " ranks");
    return g;
  }
  distributed::GlooRendezvous r;
  const std::string how = "the gloo backend starts one process per rank with RANK, WORLD_SIZE and TESSERA_GLOO_STORE";
  r.rank = env_int("RANK", how);
  r.world_size = env_int("WORLD_SIZE", how);
  r.store_dir = o.store.empty() ? env_str("TESSERA_GLOO_STORE") : o.store;
  if (r.store_dir.empty() && !env_str("MASTER_ADDR").empty())
    throw std::invalid_argument("trainer.distributed: MASTER_ADDR/MASTER_PORT rendezvous needs a TCP store, which "
                                "Debian's Gloo does not ship; give a file store directory on a file system every rank "
                                "sees (TESSERA_GLOO_STORE or trainer.distributed.store)");
  r.iface = env_str("GLOO_SOCKET_IFNAME");
  if (auto h = env_str("TESSERA_GLOO_HOSTNAME"); !h.empty()) r.hostname = h;
  return distributed::make_gloo_process_group(r, o.timeout_s);
}

DataParallel::DataParallel(const DistributedOptions& o) : o_(o), group_(init_process_group(o)) {
  distributed::set_default_process_group(group_);
}

DataParallel::~DataParallel() {
  reducer_.reset();
  if (distributed::default_process_group() == group_) distributed::set_default_process_group(nullptr);
}

void DataParallel::broadcast_module(nn::Module& m) {
  NoGradGuard ng;
  std::vector<Tensor> ts;
  for (const auto& [n, p] : m.named_parameters()) ts.push_back(p);
  for (const auto& [n, b] : m.named_buffers()) ts.push_back(b);
  for (const Tensor& t : ts) {
    Tensor buf = t.is_contiguous() ? t : kernels::contiguous(t);
    group_->broadcast(buf, 0);
    if (!buf.is_same(t)) kernels::copy_(t, buf);
    t.bump_version();
  }
}

void DataParallel::attach(TrainContext& ctx) {
  reducer_ = std::make_unique<GradientReducer>(ctx.parameters, group_, o_.bucket_mb);
  ctx.grad_sync = reducer_.get();
}

void DataParallel::begin_step(const std::vector<data::Batch>& micro, const data::DataLoader& loader, int64_t first) {
  double local = 0, global = 0;
  for (size_t i = 0; i < micro.size(); ++i) {
    local += double(micro[i].size());
    global += double(loader.global_batch_size(first + int64_t(i)));
  }
  if (reducer_) reducer_->set_sample_weight(local * double(world_size()) / global);
}

void DataParallel::reduce_result(StepResult& r) {
  auto s = sum({r.loss * double(r.samples), double(r.samples)});
  r.loss = s[0] / s[1];
  r.samples = int64_t(s[1]);
}

std::vector<double> DataParallel::sum(const std::vector<double>& v) {
  Tensor t = from_vector(v, {int64_t(v.size())});
  group_->all_reduce(t);
  return kernels::to_vector<double>(t);
}

void DataParallel::barrier() { group_->barrier(); }

}  // namespace tessera::experiments
