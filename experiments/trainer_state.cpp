// Trainer state: checkpoints (make, restore, save) and the metrics log's truncation on resume.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/generator.h"
#include "experiments/trainer.h"

namespace tessera::experiments {

namespace fs = std::filesystem;

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
  for (size_t i = 0; i < optimizers_.size(); ++i) optimizers_[i]->load_state_dict(c.optimizers[i]);
  if (c.schedulers.size() != schedulers_.size())
    throw std::invalid_argument("resume: checkpoint has " + std::to_string(c.schedulers.size()) +
                                " scheduler slot(s), the config builds " + std::to_string(schedulers_.size()));
  for (size_t i = 0; i < schedulers_.size(); ++i)
    if (schedulers_[i]) schedulers_[i]->load_state_dict(c.schedulers[i]);
  if (auto it = c.rng.find("global"); it != c.rng.end()) default_generator().set_state(it->second.seed, it->second.offset);
  step_ = c.step;
  epoch_ = c.epoch;
  auto get = [&](const std::string& k) -> std::optional<double> {
    auto it = c.metrics.find(k);
    return it == c.metrics.end() ? std::nullopt : std::optional<double>(it->second);
  };
  batch_in_epoch_ = int64_t(get("trainer.batch_in_epoch").value_or(0));
  if (auto b = get("trainer.best_value")) {
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
  TrainingCheckpoint c = load_checkpoint(path);
  model_->load_state_dict(c.model, true);
}

void Trainer::save(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  save_checkpoint(path, make_checkpoint());
  if (path == checkpoint_path("last")) last_saved_step_ = step_;
}

// A run resumed from a checkpoint older than the end of its log (say best.h5, or last.h5 after the
// process died between a log line and the next save) would otherwise keep the abandoned future in
// metrics.jsonl and then log those steps a second time. Keep the lines up to the checkpoint's step
// and rewrite the file atomically; lines that are not JSON are kept as they are.
void Trainer::truncate_log_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;  // resuming into a fresh run folder
  std::string kept, line;
  int64_t dropped = 0;
  while (std::getline(in, line)) {
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
