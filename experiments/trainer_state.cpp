// Trainer state: checkpoints (make, restore, save) and the metrics log's truncation on resume.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/generator.h"
#include "experiments/safetensors.h"
#include "experiments/trainer.h"

namespace tessera::experiments {

namespace fs = std::filesystem;

namespace {
std::string format_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.15g", v);
  return b;
}
}  // namespace

std::string Trainer::checkpoint_path(const std::string& name) const {
  return (fs::path(output_dir_) / "checkpoints" / (name + ".h5")).string();
}

TrainingCheckpoint Trainer::make_checkpoint() const {
  TrainingCheckpoint c;
  c.model = model_->state_dict();
  for (const auto& o : optimizers_) c.optimizers.push_back(o->state_dict());
  for (const auto& s : schedulers_) c.schedulers.push_back(s ? s->state_dict() : std::map<std::string, double>{});
  c.rng["global"] = RngState{default_generator().seed(), default_generator().offset()};
  c.step = step_;
  c.epoch = epoch_;
  c.config = config_text_;
  c.metrics["trainer.batch_in_epoch"] = double(batch_in_epoch_);
  if (has_best_) c.metrics["trainer.best_value"] = best_value_;
  for (const auto& [k, v] : strategy_->state_dict()) c.metrics["strategy." + k] = v;
  c.state = ctx_.state;
  return c;
}

void Trainer::restore(const TrainingCheckpoint& c) {
  model_->load_state_dict(c.model, true);
  if (c.optimizers.size() != optimizers_.size())
    throw std::invalid_argument("resume: checkpoint has " + std::to_string(c.optimizers.size()) +
                                " optimizer(s), the config builds " + std::to_string(optimizers_.size()));
  for (size_t i = 0; i < optimizers_.size(); ++i) {
    try {
      optimizers_[i]->load_state_dict(c.optimizers[i]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("optimizers/" + std::to_string(i) + ": " + e.what());
    }
  }
  if (c.schedulers.size() != schedulers_.size())
    throw std::invalid_argument("resume: checkpoint has " + std::to_string(c.schedulers.size()) +
                                " scheduler slot(s), the config builds " + std::to_string(schedulers_.size()));
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    try {
      if (schedulers_[i]) schedulers_[i]->load_state_dict(c.schedulers[i]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("schedulers/" + std::to_string(i) + ": " + e.what());
    }
  }
  if (c.step < 0 || c.epoch < 0)
    throw std::invalid_argument("step " + std::to_string(c.step) + " / epoch " + std::to_string(c.epoch) +
                                ": expected non-negative counts");
  if (auto it = c.rng.find("global"); it != c.rng.end()) default_generator().set_state(it->second.seed, it->second.offset);
  step_ = c.step;
  epoch_ = c.epoch;
  auto get = [&](const std::string& k) -> std::optional<double> {
    auto it = c.metrics.find(k);
    return it == c.metrics.end() ? std::nullopt : std::optional<double>(it->second);
  };
  // Where the run stopped inside its epoch: a whole number of batches the train loader has.
  const double bie = get("trainer.batch_in_epoch").value_or(0);
  const int64_t nb = splits_.at("train")->loader->num_batches();
  if (!(bie >= 0 && bie <= double(nb) && bie == std::floor(bie)))
    throw std::invalid_argument("metrics/trainer.batch_in_epoch is " + format_number(bie) +
                                ", expected a whole number of batches in 0.." + std::to_string(nb) +
                                " (the train split's batches per epoch)");
  batch_in_epoch_ = int64_t(bie);
  if (auto b = get("trainer.best_value")) {
    if (std::isnan(*b)) throw std::invalid_argument("metrics/trainer.best_value is NaN");
    best_value_ = *b;
    has_best_ = true;
  }
  std::map<std::string, double> ss;
  for (const auto& [k, v] : c.metrics)
    if (k.rfind("strategy.", 0) == 0) ss[k.substr(9)] = v;
  strategy_->load_state_dict(ss);
  ctx_.state = c.state;
}

void Trainer::load_weights(const std::string& path) {
  // A training checkpoint, or weights alone as safetensors (tessera export --format safetensors, or a hub's file).
  const nn::StateDict weights = path.ends_with(".safetensors") ? load_safetensors(path) : load_checkpoint(path).model;
  try {
    model_->load_state_dict(weights, true);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": the checkpoint's model does not fit the config's: " + e.what());
  }
}

std::vector<std::string> Trainer::resume_from(const std::string& path) {
  std::vector<std::string> notes;
  TrainingCheckpoint c = load_checkpoint(path);
  try {
    restore(c);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": cannot resume from this checkpoint: " + e.what());
  }
  // The best checkpoint belongs with the best value restored: resuming into another run folder
  // brings the resumed run's best.h5 along, else a final test would load a file never written.
  const std::string best = checkpoint_path("best");
  if (has_best_ && !fs::exists(best) && is_main_process()) {
    const fs::path theirs = fs::path(path).parent_path() / "best.h5";
    std::error_code ec;
    if (fs::exists(theirs) && !fs::equivalent(theirs, best, ec)) {
      write_atomically(best, [&](const std::string& tmp) { fs::copy_file(theirs, tmp); });
      notes.push_back("best checkpoint carried over from " + theirs.string());
    } else {
      // Forget the best value: this run's validations write a best.h5 it can test.
      has_best_ = false;
      notes.push_back("warning: the resumed run's best.h5 (beside " + path + ") is missing: the best checkpoint " +
                      "restarts from this run's validations");
    }
  }
  return notes;
}

void Trainer::save(const std::string& path) {
  if (!is_main_process()) {  // data parallel: rank 0 writes; the replicas are identical
    if (path == checkpoint_path("last")) last_saved_step_ = step_;
    return;
  }
  try {
    fs::create_directories(fs::path(path).parent_path());
    save_checkpoint(path, make_checkpoint());
  } catch (const std::exception& e) {
    // The write went to a temporary file: whatever was at `path` before is intact.
    const std::string last = checkpoint_path("last");
    throw std::runtime_error(std::string(e.what()) + "; training stopped at step " + std::to_string(step_) + " (" +
                             (fs::exists(last) ? "last good checkpoint kept: " + last : "no checkpoint was written before") +
                             ")");
  }
  if (path == checkpoint_path("last")) last_saved_step_ = step_;
}

// A run resumed from a checkpoint older than the end of its log (say best.h5, or last.h5 after the
// process died between a log line and the next save) would otherwise keep the abandoned future in
// metrics.jsonl and then log those steps a second time. Keep the lines up to the checkpoint's step
// and rewrite the file atomically; lines that are not JSON are kept as they are, except a last line
// without its newline (a write cut short by a kill or a full disk), which is dropped.
void Trainer::truncate_log_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;  // resuming into a fresh run folder
  std::string kept, line;
  int64_t dropped = 0;
  while (std::getline(in, line)) {
    if (in.eof()) {  // getline met the end before a newline: a partial line
      if (!line.empty()) ++dropped;
      break;
    }
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    bool after = j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
                 j["step"].get<int64_t>() > step;
    if (after) {
      ++dropped;
      continue;
    }
    kept += line;
    kept += '\n';
  }
  in.close();
  if (dropped == 0) return;
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    if (!out.flush()) throw std::runtime_error("trainer: cannot write " + tmp);
  });
}

}  // namespace tessera::experiments
