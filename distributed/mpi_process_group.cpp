#include "distributed/mpi_process_group.h"

#include <mpi.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "distributed/peer_check.h"

namespace tessera::distributed {

namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default: throw std::invalid_argument(std::string("mpi: unsupported dtype ") + dtype_name(t));
  }
}

std::string mpi_error(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, buf, &len);
  return std::string(buf, size_t(len));
}

class MpiProcessGroup : public ProcessGroup {
 public:
  explicit MpiProcessGroup(double timeout_s) : ProcessGroup(timeout_s) {
    start([this](int& rank, int& size) { init(rank, size); }, [this](bool broken) { fini(broken); });
  }
  ~MpiProcessGroup() override { stop(); }
  std::string backend() const override { return "mpi"; }

 protected:
  void run_all_reduce(const Tensor& t, uint64_t seq) override {
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), int(t.numel()), mpi_type(t.dtype()), MPI_SUM, comm_, &req),
          "all_reduce", seq);
    wait(req, "all_reduce", seq);
  }
  void run_broadcast(const Tensor& t, int root, uint64_t seq) override {
    MPI_Request req;
    check(MPI_Ibcast(t.raw_data(), int(t.numel()), mpi_type(t.dtype()), root, comm_, &req), "broadcast", seq);
    wait(req, "broadcast", seq);
  }
  void run_barrier(uint64_t seq) override {
    MPI_Request req;
    check(MPI_Ibarrier(comm_, &req), "barrier", seq);
    wait(req, "barrier", seq);
  }

 private:
  void init(int& rank, int& size) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
      if (provided < MPI_THREAD_SERIALIZED)
        throw CommError("mpi: the MPI library does not support MPI_THREAD_SERIALIZED (got level " +
                        std::to_string(provided) + ")");
      owns_mpi_ = true;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_dup(MPI_COMM_WORLD, &side_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(side_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank);
    MPI_Comm_size(comm_, &size);
    rank_ = rank;
    size_ = size;
  }
  void fini(bool broken) {
    // After a failure the peers may never arrive: freeing communicators or finalising would wait
    // for them. The process exits with an error and mpirun stops the others.
    if (broken || !owns_mpi_) return;
    MPI_Comm_free(&side_);
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }
  void check(int rc, const char* op, uint64_t seq) {
    if (rc != MPI_SUCCESS)
      throw CommError("distributed (mpi): rank " + std::to_string(rank_) + ": " + op + " #" + std::to_string(seq) +
                      " failed: " + mpi_error(rc));
  }
  // Polls with a growing sleep (OpenMPI's blocking wait would spin a core the computation needs).
  void wait(MPI_Request& req, const char* op, uint64_t seq) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s());
    auto nap = std::chrono::microseconds(0);
    for (;;) {
      int flag = 0;
      check(MPI_Test(&req, &flag, MPI_STATUS_IGNORE), op, seq);
      if (flag) return;
      if (Clock::now() > deadline) throw CommError(timeout_message(op, seq));
      if (nap.count() == 0) std::this_thread::yield(); else std::this_thread::sleep_for(nap);
      nap = std::min(std::chrono::microseconds(200), nap + std::chrono::microseconds(10));
    }
  }
  // Asks every peer, on a separate communicator, whether it too is stuck in collective `seq`: the
  // peers that answer within the grace period are waiting like this rank; the others are named.
  std::string timeout_message(const char* op, uint64_t seq) {
    const int tag = int(seq % 30000);
    std::vector<long long> mine(size_t(size_), (long long)seq), theirs(size_t(size_), -1);
    std::vector<MPI_Request> sends, recvs(size_t(size_), MPI_REQUEST_NULL);
    for (int p = 0; p < size_; ++p) {
      if (p == rank_) continue;
      MPI_Request r;
      MPI_Isend(&mine[size_t(p)], 1, MPI_LONG_LONG, p, tag, side_, &r);
      sends.push_back(r);
      MPI_Irecv(&theirs[size_t(p)], 1, MPI_LONG_LONG, p, tag, side_, &recvs[size_t(p)]);
    }
    const auto grace_end = Clock::now() + std::chrono::duration<double>(peer_grace_seconds(timeout_s()));
    std::vector<bool> answered(size_t(size_), false);
    answered[size_t(rank_)] = true;
    while (Clock::now() < grace_end) {
      bool all = true;
      for (int p = 0; p < size_; ++p) {
        if (answered[size_t(p)]) continue;
        int flag = 0;
        MPI_Test(&recvs[size_t(p)], &flag, MPI_STATUS_IGNORE);
        answered[size_t(p)] = flag != 0;
        all = all && flag;
      }
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::vector<int> missing;
    for (int p = 0; p < size_; ++p)
      if (!answered[size_t(p)]) missing.push_back(p);
    // The requests are abandoned with the communicator: the process is about to fail.
    return collective_timeout_message("mpi", rank_, op, seq, timeout_s(), missing);
  }

  MPI_Comm comm_ = MPI_COMM_NULL, side_ = MPI_COMM_NULL;
  bool owns_mpi_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<ProcessGroup> make_mpi_process_group(double timeout_s) {
  return std::make_shared<MpiProcessGroup>(timeout_s);
}

}  // namespace tessera::distributed
