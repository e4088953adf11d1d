#pragma once
// Training checkpoints (resume a run exactly) and weights-only export/import in the layout
// PyTorch users load with h5py: one dataset per state_dict key, same shapes and dtypes.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace tessera {

constexpr int64_t kCheckpointFormatVersion = 1;

struct RngState {
  uint64_t seed = 0, offset = 0;
};

struct TrainingCheckpoint {
  nn::StateDict model;
  std::vector<optim::OptimizerState> optimizers;            // several for gradient routing
  std::vector<std::map<std::string, double>> schedulers;
  std::map<std::string, RngState> rng;                      // e.g. "global", "loader"
  int64_t step = 0, epoch = 0;
  std::string config;                                       // the resolved config text
  std::map<std::string, double> metrics;                    // e.g. best validation accuracy
  std::map<std::string, Tensor> state;                      // the task's carried model state
};

// Writes atomically: a temporary file beside `path` is written, fsynced and renamed over it, so
// an existing checkpoint survives any failure.
void save_checkpoint(const std::string& path, const TrainingCheckpoint& ckpt);
// Errors name the file and the missing or malformed entry; a file of another format version is
// rejected with both versions.
TrainingCheckpoint load_checkpoint(const std::string& path);

// Reads every dataset of a checkpoint (or exported weights), which verifies each one's Fletcher32
// checksum, and then loads it as a checkpoint (the structure and value checks of load_checkpoint).
struct VerifyReport {
  int64_t datasets = 0, checksummed = 0;
  std::vector<std::string> errors;  // one line each: the dataset and what is wrong
  bool ok() const { return errors.empty(); }
};
VerifyReport verify_checkpoint(const std::string& path);

// Weights only: datasets named exactly by the state_dict keys (bfloat16 is written as float32 so
// that numpy/PyTorch read it). Atomic like save_checkpoint.
void export_pytorch_h5(const std::string& path, const nn::StateDict& sd);
// Reads such a file (written by Tessera or by h5py from a PyTorch state_dict).
nn::StateDict import_pytorch_h5(const std::string& path);

// load_checkpoint and import_pytorch_h5 read the file once in a checking child process first
// (experiments/hdf5_child_check.h), so that a file which crashes libhdf5 is refused with an error.
// These read it in this process only: for the fuzz targets, which are there to find such crashes.
TrainingCheckpoint load_checkpoint_in_process(const std::string& path);
nn::StateDict import_pytorch_h5_in_process(const std::string& path);

// Writes with `write(tmp_path)`, fsyncs, and renames onto path (used by every writer here).
void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write);

// Removes the temporaries ("<name>.tmp.<pid>") that write_atomically left in `dir` when its
// process was killed mid-write, for processes that no longer run on this machine (a live pid,
// possibly reused, keeps its file). Returns the removed paths; a missing dir is no error.
// Not for a folder shared by runs on several hosts: another host's live writer looks dead here.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

}  // namespace tessera
