#include "experiments/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "experiments/hdf5_child_check.h"
#include "experiments/hdf5_io.h"

namespace tessera {

namespace {
// Flushes a written file to disk; a failure (a full disk can surface only here) is an error.
void fsync_file(const std::string& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(p + ": cannot reopen to flush (" + std::strerror(errno) + ")");
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error(p + ": cannot flush to disk (" + std::strerror(err) + ")");
}

// Makes a rename durable; best effort (some file systems refuse fsync on a directory).
void fsync_dir(const std::string& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  std::filesystem::path target(path);
  // A folder as the output name would end in rename()'s "Is a directory [x.tmp.PID] [x]".
  if (std::filesystem::is_directory(target)) throw std::invalid_argument(path + ": is a directory, expected a file name");
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    fsync_file(tmp);
    std::filesystem::rename(tmp, target);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  fsync_dir(target.parent_path().empty() ? "." : target.parent_path().string());
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) return removed;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    const size_t dot = name.rfind(".tmp.");
    if (dot == std::string::npos || dot == 0) continue;
    const std::string digits = name.substr(dot + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // running (or not ours to signal): keep
    if (std::filesystem::remove(it->path(), ec)) removed.push_back(it->path().string());
  }
  return removed;
}

void save_checkpoint(const std::string& path, const TrainingCheckpoint& c) {
  write_atomically(path, [&](const std::string& tmp) {
    io::H5File f(tmp, io::H5File::Truncate);
    f.set_attr("tessera_checkpoint_format", kCheckpointFormatVersion);
    f.set_attr("step", c.step);
    f.set_attr("epoch", c.epoch);
    f.write_string("config", c.config);
    f.create_group("model");
    for (const auto& [k, v] : c.model) f.write_tensor("model/" + k, v);
    f.create_group("optimizers");
    for (size_t i = 0; i < c.optimizers.size(); ++i) {
      std::string g = "optimizers/" + std::to_string(i);
      f.create_group(g);
      f.create_group(g + "/tensors");
      f.create_group(g + "/scalars");
      for (const auto& [k, v] : c.optimizers[i].tensors) f.write_tensor(g + "/tensors/" + k, v);
      for (const auto& [k, v] : c.optimizers[i].scalars) f.write_scalar(g + "/scalars/" + k, v);
    }
    f.create_group("schedulers");
    for (size_t i = 0; i < c.schedulers.size(); ++i) {
      std::string g = "schedulers/" + std::to_string(i);
      f.create_group(g);
      for (const auto& [k, v] : c.schedulers[i]) f.write_scalar(g + "/" + k, v);
    }
    f.create_group("rng");
    for (const auto& [name, s] : c.rng) {
      f.write_tensor("rng/" + name, from_vector<int64_t>({int64_t(s.seed), int64_t(s.offset)}, {2}));
    }
    f.create_group("metrics");
    for (const auto& [k, v] : c.metrics) f.write_scalar("metrics/" + k, v);
    f.create_group("state");
    for (const auto& [k, v] : c.state) f.write_tensor("state/" + k, v);
    f.close();
  });
}

TrainingCheckpoint load_checkpoint_in_process(const std::string& path) {
  io::H5File f(path, io::H5File::Read);
  if (!f.has_attr("tessera_checkpoint_format"))
    throw std::runtime_error(path + ": not a Tessera training checkpoint (no 'tessera_checkpoint_format' attribute)");
  int64_t v = f.get_attr("tessera_checkpoint_format");
  if (v != kCheckpointFormatVersion)
    throw std::runtime_error(path + ": checkpoint format version " + std::to_string(v) + ", this build reads version " +
                             std::to_string(kCheckpointFormatVersion));
  for (const char* g : {"model", "optimizers", "schedulers", "rng", "metrics", "config"})
    if (!f.exists(g)) throw std::runtime_error(path + ": checkpoint is missing '" + g + "'");
  TrainingCheckpoint c;
  c.step = f.get_attr("step");
  c.epoch = f.get_attr("epoch");
  c.config = f.read_string("config");
  for (const auto& k : f.list("model")) c.model.insert(k, f.read_tensor("model/" + k));
  auto indexed = [&](const std::string& group) {
    // Children are "0", "1", ...: order them numerically and require no gaps.
    auto names = f.list(group);
    for (size_t i = 0; i < names.size(); ++i)
      if (!f.exists(group + "/" + std::to_string(i)))
        throw std::runtime_error(path + ": '" + group + "' entries are not numbered 0.." + std::to_string(names.size() - 1));
    return names.size();
  };
  for (size_t i = 0, n = indexed("optimizers"); i < n; ++i) {
    std::string g = "optimizers/" + std::to_string(i);
    optim::OptimizerState s;
    for (const auto& k : f.list(g + "/tensors")) s.tensors[k] = f.read_tensor(g + "/tensors/" + k);
    for (const auto& k : f.list(g + "/scalars")) s.scalars[k] = f.read_scalar(g + "/scalars/" + k);
    c.optimizers.push_back(std::move(s));
  }
  for (size_t i = 0, n = indexed("schedulers"); i < n; ++i) {
    std::string g = "schedulers/" + std::to_string(i);
    std::map<std::string, double> s;
    for (const auto& k : f.list(g)) s[k] = f.read_scalar(g + "/" + k);
    c.schedulers.push_back(std::move(s));
  }
  for (const auto& name : f.list("rng")) {
    Tensor t = f.read_tensor("rng/" + name);
    if (t.dtype() != DType::Int64 || t.numel() != 2)
      throw std::runtime_error(path + ": 'rng/" + name + "' should be 2 int64 values (seed, offset)");
    const std::vector<int64_t> v = kernels::to_vector<int64_t>(t);
    c.rng[name] = {uint64_t(v[0]), uint64_t(v[1])};
  }
  for (const auto& k : f.list("metrics")) c.metrics[k] = f.read_scalar("metrics/" + k);
  // Carried model state; checkpoints written before it existed have none.
  if (f.exists("state"))
    for (const auto& k : f.list("state")) c.state[k] = f.read_tensor("state/" + k);
  return c;
}

namespace {

VerifyReport verify_checkpoint_here(const std::string& path) {
  VerifyReport r;
  {
    io::H5File f(path, io::H5File::Read);
    for (const auto& name : f.datasets()) {
      ++r.datasets;
      try {
        if (f.has_checksum(name)) ++r.checksummed;
        if (name == "config") f.read_string(name);
        else f.read_tensor(name);
      } catch (const std::exception& e) {
        r.errors.push_back(e.what());
      }
    }
  }
  if (r.errors.empty()) {
    try {
      load_checkpoint_in_process(path);
    } catch (const std::exception& e) {
      r.errors.push_back(e.what());
    }
  }
  return r;
}

}  // namespace

nn::StateDict import_pytorch_h5_in_process(const std::string& path) {
  io::H5File f(path, io::H5File::Read);
  nn::StateDict sd;
  for (const auto& k : f.list("/")) sd.insert(k, f.read_tensor(k));
  return sd;
}

// Each read happens first in a checking child process (experiments/hdf5_child_check.h): a file
// that crashes libhdf5 there is refused with an error instead of taking this process down.
TrainingCheckpoint load_checkpoint(const std::string& path) {
  io::check_read_in_child(path, [&] { load_checkpoint_in_process(path); });
  return load_checkpoint_in_process(path);
}

VerifyReport verify_checkpoint(const std::string& path) {
  try {
    io::check_read_in_child(path, [&] { verify_checkpoint_here(path); });
  } catch (const std::exception& e) {
    VerifyReport r;
    r.errors.push_back(e.what());
    return r;
  }
  return verify_checkpoint_here(path);
}

nn::StateDict import_pytorch_h5(const std::string& path) {
  io::check_read_in_child(path, [&] { import_pytorch_h5_in_process(path); });
  return import_pytorch_h5_in_process(path);
}

void export_pytorch_h5(const std::string& path, const nn::StateDict& sd) {
  write_atomically(path, [&](const std::string& tmp) {
    io::H5File f(tmp, io::H5File::Truncate);
    for (const auto& [k, v] : sd) {
      // h5py reads a 0-d dataset as a numpy scalar, which torch.from_numpy rejects: write_tensor
      // stores 0-d tensors (num_batches_tracked) as 1 element, which torch's load_state_dict
      // accepts for a 0-d entry, tagged so that import restores the 0-d shape.
      f.write_tensor(k, v.dtype() == DType::BFloat16 ? kernels::to_dtype(v, DType::Float32) : v);
    }
    f.close();
  });
}

}  // namespace tessera
