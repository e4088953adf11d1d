#include "experiments/trainer.h"

#include <omp.h>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/arith.h"
#include "core/generator.h"
#include "core/threading.h"
#include "experiments/plot.h"
#include "optim/clip_grad.h"

namespace tessera::experiments {

namespace fs = std::filesystem;
using config::ConfigError;

// ---------------------------------------------------------------------------------------------
// Strategy

void check_finite_loss(double v, const TrainContext& ctx, const std::string& what) {
  if (std::isfinite(v)) return;
  std::ostringstream os;
  os << what << " is " << (std::isnan(v) ? "NaN" : "Inf") << " at step " << ctx.step + 1 << " (epoch " << ctx.epoch
     << ")";
  throw NonFiniteLoss(os.str());
}

StepResult DefaultStrategy::step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) {
  StepResult r;
  const double scale = 1.0 / double(micro_batches.size());
  for (const auto& b : micro_batches) {
    Tensor out = ctx.model->forward(b.at(ctx.input_key));
    Tensor loss = (*ctx.loss)(out, b.at(ctx.target_key));
    double v = loss.item_double();
    check_finite_loss(v, ctx);
    r.loss += v * scale;
    r.samples += b.size();
    backward(micro_batches.size() > 1 ? mul(loss, scale) : loss);
  }
  if (ctx.grad_clip > 0) r.grad_norm = optim::clip_grad_norm_(ctx.parameters, ctx.grad_clip);
  for (auto* o : ctx.optimizers) o->step();
  for (auto* o : ctx.optimizers) o->zero_grad();
  return r;
}

// ---------------------------------------------------------------------------------------------
// SIGINT

namespace {
std::atomic<bool> g_sigint{false};
void on_sigint(int) {
  g_sigint = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills immediately
}

bool glob_match(const char* p, const char* s) {
  // '*' any run of characters, '?' one character.
  if (*p == 0) return *s == 0;
  if (*p == '*') return glob_match(p + 1, s) || (*s && glob_match(p, s + 1));
  if (*s && (*p == '?' || *p == *s)) return glob_match(p + 1, s + 1);
  return false;
}
bool matches_any(const std::vector<std::string>& pats, const std::string& name) {
  for (const auto& p : pats)
    if (glob_match(p.c_str(), name.c_str())) return true;
  return false;
}

// Marks an absent optional key as read, so check_unknown() can suggest it for a misspelling.
void touch(const ConfigNode& n, const std::string& key) {
  if (!n.has(key)) (void)n.get_string(key, std::string());
}

std::vector<std::string> string_list(const ConfigNode& n, const std::string& key, std::vector<std::string> def) {
  if (!n.has(key)) {
    (void)n.get_string(key, std::string());  // mark read
    return def;
  }
  std::vector<std::string> r;
  try {
    for (const auto& e : n.elements(key)) r.push_back(e.scalar());
  } catch (const ConfigError&) {
    r = {n.get_string(key)};  // a single pattern
  }
  return r;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Trainer

struct Trainer::Split {
  std::string name;
  std::shared_ptr<const data::Dataset> dataset;
  std::unique_ptr<data::DataLoader> loader;
};

Trainer::Trainer(const config::Value& cfg, TrainerOptions opts) : opts_(std::move(opts)) { build(cfg); }
Trainer::~Trainer() = default;

bool Trainer::has_split(const std::string& s) const { return splits_.count(s) != 0; }

data::DataLoader& Trainer::loader(const std::string& split) {
  auto it = splits_.find(split);
  if (it == splits_.end()) throw std::invalid_argument("the config has no data." + split + " split");
  return *it->second->loader;
}

std::vector<optim::Optimizer*> Trainer::optimizers() const {
  std::vector<optim::Optimizer*> r;
  for (const auto& o : optimizers_) r.push_back(o.get());
  return r;
}

std::shared_ptr<Trainer::Split> Trainer::build_split(const ConfigNode& node, const std::string& name,
                                                     const ConfigNode& data) {
  auto& reg = registry();
  auto s = std::make_shared<Split>();
  s->name = name;
  ConfigNode ds = node.child("dataset");
  std::string ds_name = ds.get_string("name");
  int64_t start = ds.get_int("start", 0), end = ds.get_int("end", -1);
  auto base = reg.datasets.get(ds_name, ds, "name")(ds);
  ds.check_unknown();
  int64_t n = base->size();
  if (end < 0) end = n;
  if (start < 0 || start > end || end > n)
    ds.fail(ds.has("end") ? "end" : "start", "0 <= start <= end <= " + std::to_string(n) + " (the dataset's size)");
  if (start != 0 || end != n) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < end; ++i) idx.push_back(i);
    s->dataset = std::make_shared<data::Subset>(base, idx);
  } else {
    s->dataset = base;
  }
  if (s->dataset->size() == 0) ds.fail("name", "a non-empty dataset");

  std::vector<data::Transform> ts;
  touch(node, "transforms");
  if (node.has("transforms")) {
    for (const auto& t : node.elements("transforms")) {
      if (t.is_scalar()) {
        throw ConfigError(t.origin().str() + ": " + t.path() + ": expected a mapping {name: ..., options}");
      }
      std::string tn = t.get_string("name");
      ts.push_back(reg.transforms.get(tn, t, "name")(t));
      t.check_unknown();
    }
  }
  data::DataLoaderOptions lo;
  lo.batch_size = node.get_int("batch_size", data.get_int("batch_size", 32));
  if (lo.batch_size < 1) node.has("batch_size") ? node.fail("batch_size", "an integer >= 1") : data.fail("batch_size", "an integer >= 1");
  lo.shuffle = node.get_bool("shuffle", name == "train");
  lo.drop_last = node.get_bool("drop_last", false);
  lo.num_workers = int(node.get_int("workers", data.get_int("workers", 0)));
  if (lo.num_workers < 0) node.fail("workers", "an integer >= 0");
  lo.seed = uint64_t(data.get_int("seed", int64_t(seed_))) + (name == "train" ? 0 : 1000003);
  std::shared_ptr<const data::Sampler> sampler;
  touch(node, "sampler");
  if (node.has("sampler")) {
    ConfigNode sn = node.child("sampler");
    sampler = reg.samplers.get(sn.get_string("name"), sn, "name")(sn, s->dataset, lo.seed);
    sn.check_unknown();
  }
  node.check_unknown();
  s->loader = std::make_unique<data::DataLoader>(s->dataset, lo, ts.empty() ? data::Transform() : data::compose(ts),
                                                 sampler);
  return s;
}

void Trainer::build_optimizers(const ConfigNode& root) {
  auto& reg = registry();
  std::vector<ConfigNode> specs;
  touch(root, "optimizers");
  touch(root, "optimizer");
  touch(root, "scheduler");
  if (root.has("optimizers")) {
    if (root.has("optimizer")) root.fail("optimizer", "either 'optimizer' or 'optimizers', not both");
    specs = root.elements("optimizers");
    if (specs.empty()) root.fail("optimizers", "a non-empty list of optimizers");
  } else {
    specs.push_back(root.child("optimizer"));
  }
  auto named = model_->named_parameters();
  std::vector<bool> taken(named.size(), false);
  std::optional<ConfigNode> global_sched = root.optional_child("scheduler");
  ScheduleInfo info{total_steps_, steps_per_epoch_, epochs_};
  for (size_t k = 0; k < specs.size(); ++k) {
    const ConfigNode& o = specs[k];
    std::string oname = o.get_string("name");
    const auto& factory = reg.optimizers.get(oname, o, "name");
    auto patterns = string_list(o, "params", {"*"});
    struct GroupSpec {
      std::vector<std::string> match;
      int64_t max_ndim;
      std::map<std::string, double> options;
    };
    std::vector<GroupSpec> gspecs;
    touch(o, "param_groups");
    touch(o, "scheduler");
    if (o.has("param_groups")) {
      for (const auto& g : o.elements("param_groups")) {
        GroupSpec gs;
        gs.match = string_list(g, "match", {});
        gs.max_ndim = g.get_int("max_ndim", -1);
        if (gs.match.empty() && gs.max_ndim < 0)
          g.fail("match", "a name pattern list ('match') and/or 'max_ndim' selecting the group's parameters");
        for (const char* key : {"lr", "weight_decay", "momentum", "dampening", "beta1", "beta2", "eps"})
          if (g.has(key)) gs.options[key] = g.get_double(key);
        g.check_unknown();
        gspecs.push_back(std::move(gs));
      }
    }
    std::vector<optim::ParamGroup> groups(gspecs.size() + 1);
    for (size_t i = 0; i < gspecs.size(); ++i) groups[i + 1].options = gspecs[i].options;
    int64_t count = 0;
    for (size_t i = 0; i < named.size(); ++i) {
      const auto& [pname, p] = named[i];
      if (taken[i] || !p.requires_grad() || !matches_any(patterns, pname)) continue;
      taken[i] = true;
      ++count;
      size_t gi = 0;
      for (size_t g = 0; g < gspecs.size() && gi == 0; ++g) {
        bool by_name = gspecs[g].match.empty() || matches_any(gspecs[g].match, pname);
        bool by_ndim = gspecs[g].max_ndim < 0 || p.dim() <= gspecs[g].max_ndim;
        // A group with both selectors takes parameters matching either (e.g. biases by name and
        // all 1-d norm weights by ndim).
        bool sel = (!gspecs[g].match.empty() && gspecs[g].max_ndim >= 0) ? (matches_any(gspecs[g].match, pname) || by_ndim)
                                                                          : (by_name && by_ndim);
        if (sel) gi = g + 1;
      }
      groups[gi].params.push_back(p);
    }
    if (count == 0) o.fail("params", "patterns matching at least one trainable parameter not taken by an earlier optimizer");
    // Empty groups are dropped; the default group first, then the configured ones in order.
    std::vector<optim::ParamGroup> used;
    for (auto& g : groups)
      if (!g.params.empty()) used.push_back(std::move(g));
    auto opt = factory(std::move(used), o);
    std::optional<ConfigNode> sched = o.optional_child("scheduler");
    if (!sched) sched = global_sched;
    if (sched) {
      std::string sn = sched->get_string("name");
      schedulers_.push_back(reg.schedulers.get(sn, *sched, "name")(*opt, *sched, info));
      sched->check_unknown();
    } else {
      schedulers_.push_back(nullptr);
    }
    o.check_unknown();
    optimizers_.push_back(std::move(opt));
  }
  if (!specs.empty() && specs.size() > 1) {
    std::string left;
    for (size_t i = 0; i < named.size(); ++i)
      if (!taken[i] && named[i].second.requires_grad()) left += (left.empty() ? "" : ", ") + named[i].first;
    if (!left.empty())
      throw ConfigError(root.origin().str() + ": optimizers: parameters not assigned to any optimizer: " + left);
  }
}

void Trainer::build(const config::Value& cfg) {
  auto& reg = registry();
  config_text_ = config::to_yaml(cfg);
  ConfigNode root(&cfg, "");
  if (!root.is_map()) throw ConfigError(cfg.origin.str() + ": expected a mapping of sections (model, data, ...)");

  // trainer section first: seed and threads apply before anything random is built.
  ConfigNode t = root.child("trainer");
  epochs_ = t.get_int("epochs", 0);
  max_steps_ = t.get_int("max_steps", 0);
  if (epochs_ < 0) t.fail("epochs", "an integer >= 0");
  if (max_steps_ < 0) t.fail("max_steps", "an integer >= 0");
  if (epochs_ == 0 && max_steps_ == 0)
    throw ConfigError(t.origin().str() + ": trainer: missing required key 'trainer.epochs' or 'trainer.max_steps'");
  eval_every_ = t.get_int("eval_every", 1);
  eval_every_steps_ = t.get_int("eval_every_steps", 0);
  log_every_ = t.get_int("log_every", 50);
  ckpt_every_ = t.get_int("ckpt_every", 0);
  accumulate_ = t.get_int("accumulate", 1);
  if (accumulate_ < 1) t.fail("accumulate", "an integer >= 1");
  if (log_every_ < 1) t.fail("log_every", "an integer >= 1");
  grad_clip_ = t.get_double("grad_clip", 0.0);
  seed_ = uint64_t(t.get_int("seed", 0));
  int64_t threads = t.get_int("threads", 0);
  bool deterministic = t.get_bool("deterministic", true);
  output_dir_ = t.get_string("output_dir");
  best_metric_ = t.get_string("best_metric", std::string());
  best_mode_ = t.get_choice("best_mode", {"auto", "min", "max"}, std::string("auto"));
  std::string progress = t.get_choice("progress", {"auto", "bar", "plain", "none"}, std::string("auto"));
  if (opts_.progress_tty < 0 && progress != "auto") opts_.progress_tty = progress == "bar" ? 1 : 0;
  if (progress == "none") opts_.quiet = true;
  plot_ = t.get_bool("plot", true);
  touch(t, "strategy");
  std::optional<ConfigNode> strat = t.optional_child("strategy");
  if (threads < 0) t.fail("threads", "an integer >= 0 (0: all cores)");
  if (threads > 0) set_num_threads(int(threads));
  // Fixed thread counts make the parallel reductions' split (and so the results) repeatable.
  if (deterministic) omp_set_dynamic(0);
  manual_seed(seed_);

  // model (built after seeding so initial weights depend on trainer.seed only)
  ConfigNode m = root.child("model");
  std::string mname = m.get_string("name");
  model_ = reg.models.get(mname, m, "name")(m);
  m.check_unknown();

  // data
  ConfigNode d = root.child("data");
  input_key_ = d.get_string("input_key", std::string("image"));
  target_key_ = d.get_string("target_key", std::string("label"));
  for (const char* split : {"train", "val", "test"}) {
    touch(d, split);
    if (auto n = d.optional_child(split)) splits_[split] = build_split(*n, split, d);
  }
  (void)d.get_int("batch_size", 32);
  (void)d.get_int("workers", 0);
  (void)d.get_int("seed", 0);
  d.check_unknown();
  if (!splits_.count("train")) throw ConfigError(d.origin().str() + ": missing required key 'data.train' (a mapping)");

  int64_t nb = splits_["train"]->loader->num_batches();
  if (nb == 0) throw ConfigError(d.origin().str() + ": data.train: no batches (dataset smaller than batch_size with drop_last)");
  steps_per_epoch_ = (nb + accumulate_ - 1) / accumulate_;
  total_steps_ = max_steps_ > 0 ? max_steps_ : epochs_ * steps_per_epoch_;
  if (epochs_ == 0) epochs_ = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;

  // loss, metrics
  ConfigNode l = root.child("loss");
  std::string lname = l.get_string("name");
  loss_ = reg.losses.get(lname, l, "name")(l);
  l.check_unknown();
  bool has_accuracy = false;
  touch(root, "metrics");
  if (root.has("metrics")) {
    for (const auto& e : root.elements("metrics")) {
      if (e.is_scalar()) {
        std::string n = e.scalar();
        if (!reg.metrics.contains(n)) {
          std::string list;
          for (const auto& k : reg.metrics.names()) list += (list.empty() ? "" : ", ") + k;
          auto s = config::did_you_mean(n, reg.metrics.names());
          throw ConfigError(e.origin().str() + ": " + e.path() + ": expected a registered metric name (" + list + ")" +
                            (s ? " (did you mean '" + *s + "'?)" : "") + ", got '" + n + "'");
        }
        const auto& f = reg.metrics.get(n);  // plain names take the defaults
        config::Value empty;
        empty.kind = config::Value::Kind::Map;
        empty.origin = e.origin();
        metrics_.push_back(f(ConfigNode(&empty, e.path())));
        has_accuracy |= n == "accuracy";
      } else {
        std::string n = e.get_string("name");
        metrics_.push_back(reg.metrics.get(n, e, "name")(e));
        e.check_unknown();
        has_accuracy |= n == "accuracy";
      }
    }
  }

  // strategy
  if (strat) {
    std::string sn = strat->get_string("name");
    strategy_ = reg.strategies.get(sn, *strat, "name")(*strat);
    strat->check_unknown();
  } else {
    strategy_ = std::make_unique<DefaultStrategy>();
  }
  if (best_metric_.empty()) best_metric_ = splits_.count("val") ? (has_accuracy ? "val/accuracy" : "val/loss") : "";
  if (!best_metric_.empty()) {
    auto slash = best_metric_.find('/');
    if (slash == std::string::npos || best_metric_.substr(0, slash) != "val")
      t.fail("best_metric", "'val/<metric>' (e.g. val/accuracy or val/loss)");
    if (!splits_.count("val")) t.fail("best_metric", "a metric of the 'val' split, which needs data.val");
    if (best_mode_ == "auto") {
      std::string mn = best_metric_.substr(slash + 1);
      best_mode_ = (mn == "loss" || mn == "perplexity" || mn == "token_nll") ? "min" : "max";
    }
  }
  t.check_unknown();

  build_optimizers(root);
  root.check_unknown();
}

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
  return c;
}

void Trainer::restore(const TrainingCheckpoint& c) {
  auto lr = model_->load_state_dict(c.model, true);
  (void)lr;
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

void Trainer::log_json(const std::map<std::string, double>& values, const std::string& split) {
  if (!jsonl_) return;
  nlohmann::json j;
  j["split"] = split;
  j["step"] = step_;
  j["epoch"] = epoch_;
  for (const auto& [k, v] : values) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  *jsonl_ << j.dump() << "\n";
  jsonl_->flush();
}

std::map<std::string, double> Trainer::evaluate(const std::string& split, std::string* report) {
  auto it = splits_.find(split);
  if (it == splits_.end()) throw std::invalid_argument("evaluate: the config has no data." + split + " split");
  NoGradGuard ng;
  bool was_training = model_->is_training();
  model_->eval();
  for (auto& m : metrics_) m->reset();
  double loss_sum = 0;
  int64_t n = 0;
  auto& loader = *it->second->loader;
  loader.set_epoch(0);
  for (const data::Batch& b : loader) {
    Tensor out = model_->forward(b.at(input_key_));
    const Tensor& target = b.at(target_key_);
    loss_sum += loss_(out, target).item_double() * double(b.size());
    n += b.size();
    for (auto& m : metrics_) m->update(out, target);
  }
  model_->train(was_training);
  std::map<std::string, double> r;
  r["loss"] = n ? loss_sum / double(n) : 0.0;
  for (auto& m : metrics_)
    for (const auto& [k, v] : m->compute()) r[k] = v;
  if (report) {
    report->clear();
    for (auto& m : metrics_) *report += m->report();
  }
  return r;
}

static std::string format_metrics(const std::map<std::string, double>& m) {
  std::ostringstream os;
  os.precision(4);
  bool first = true;
  for (const auto& [k, v] : m) {
    os << (first ? "" : " ") << k << " " << v;
    first = false;
  }
  return os.str();
}

void Trainer::run_eval(const std::string& split, FitResult& r, Progress* progress) {
  auto m = evaluate(split);
  if (split == "val") last_eval_step_ = step_;
  log_json(m, split);
  for (const auto& [k, v] : m) r.final_metrics[split + "/" + k] = v;
  if (progress) progress->message(split + " @ step " + std::to_string(step_) + ": " + format_metrics(m));
  for (auto& s : schedulers_)
    if (s && s->on_metric() && split == "val") {
      const std::string& mon = s->monitor();
      std::string key = mon.rfind("val/", 0) == 0 ? mon.substr(4) : mon;
      auto it = m.find(key);
      if (it == m.end()) throw std::invalid_argument("scheduler: monitored metric '" + mon + "' is not computed on val");
      s->step(it->second);
    }
  if (split == "val" && !best_metric_.empty()) {
    std::string key = best_metric_.substr(4);
    auto it = m.find(key);
    if (it == m.end())
      throw std::invalid_argument("trainer.best_metric: '" + best_metric_ + "' is not computed (val has: " +
                                  format_metrics(m) + ")");
    bool better = !has_best_ || (best_mode_ == "min" ? it->second < best_value_ : it->second > best_value_);
    if (better) {
      best_value_ = it->second;
      has_best_ = true;
      save(checkpoint_path("best"));
      r.best_checkpoint = checkpoint_path("best");
    }
  }
}

FitResult Trainer::fit() {
  FitResult r;
  r.output_dir = output_dir_;
  fs::create_directories(fs::path(output_dir_) / "checkpoints");
  write_atomically((fs::path(output_dir_) / "config.yaml").string(), [&](const std::string& tmp) {
    std::ofstream cf(tmp);
    cf << config_text_;
    if (!cf.flush()) throw std::runtime_error("trainer: cannot write " + tmp);
  });
  const std::string log_path = (fs::path(output_dir_) / "metrics.jsonl").string();
  if (opts_.resume) {
    restore(load_checkpoint(*opts_.resume));
    truncate_log_after(log_path, step_);
  }
  jsonl_ = std::make_unique<std::ofstream>(log_path, opts_.resume ? std::ios::app : std::ios::trunc);

  std::unique_ptr<Progress> progress;
  if (!opts_.quiet) progress = std::make_unique<Progress>(total_steps_, step_, opts_.progress_tty);
  if (progress) {
    progress->message("run folder: " + output_dir_ + "  (" + std::to_string(model_->num_parameters()) +
                      " parameters, " + std::to_string(steps_per_epoch_) + " steps/epoch, " +
                      std::to_string(total_steps_) + " steps" + (opts_.resume ? ", resumed at step " + std::to_string(step_) : "") + ")");
  }

  void (*old_handler)(int) = SIG_DFL;
  if (opts_.install_sigint_handler) {
    g_sigint = false;
    old_handler = std::signal(SIGINT, on_sigint);
  }
  struct Restore {
    bool on;
    void (*h)(int);
    ~Restore() {
      if (on) std::signal(SIGINT, h);
    }
  } restore_handler{opts_.install_sigint_handler, old_handler};

  TrainContext ctx;
  ctx.model = model_.get();
  ctx.optimizers = optimizers();
  ctx.loss = &loss_;
  ctx.input_key = input_key_;
  ctx.target_key = target_key_;
  ctx.grad_clip = grad_clip_;
  for (const auto& p : model_->parameters())
    if (p.requires_grad()) ctx.parameters.push_back(p);

  auto& loader = *splits_["train"]->loader;
  const int64_t nb = loader.num_batches();
  double log_loss = 0;
  int64_t log_n = 0;
  auto t_start = std::chrono::steady_clock::now();
  model_->train();
  auto stop_now = [&] { return stop_requested_.load() || g_sigint.load(); };

  try {
    while (step_ < total_steps_ && !stop_now()) {
      loader.set_epoch(epoch_);
      std::unique_ptr<data::EpochPass> pass;
      if (batch_in_epoch_ == 0) pass = loader.start();
      std::vector<data::Batch> micro;
      while (batch_in_epoch_ < nb && step_ < total_steps_ && !stop_now()) {
        micro.clear();
        int64_t take = std::min(accumulate_, nb - batch_in_epoch_);
        for (int64_t i = 0; i < take; ++i) {
          if (pass) {
            auto b = pass->next();
            if (!b) throw std::logic_error("trainer: data loader ended early");
            micro.push_back(std::move(*b));
          } else {
            micro.push_back(loader.batch(batch_in_epoch_ + i));  // resumed mid-epoch
          }
        }
        ctx.step = step_;
        ctx.epoch = epoch_;
        StepResult sr;
        try {
          sr = strategy_->step(ctx, micro);
        } catch (const NonFiniteLoss& e) {
          for (auto* o : ctx.optimizers) o->zero_grad();
          std::string ck = last_saved_step_ >= 0 || opts_.resume
                               ? "last good checkpoint kept: " + checkpoint_path("last")
                               : "no checkpoint was written before it";
          throw NonFiniteLoss(std::string(e.what()) + "; training stopped (" + ck + ")");
        }
        batch_in_epoch_ += take;
        ++step_;
        step_losses_.push_back(sr.loss);
        for (auto& s : schedulers_)
          if (s && s->per_step()) s->step();
        log_loss += sr.loss;
        ++log_n;
        char status[64];
        std::snprintf(status, sizeof status, "loss %.4f", sr.loss);
        if (progress) progress->update(step_, epoch_, sr.samples, status);
        if (step_ % log_every_ == 0 || step_ == total_steps_) {
          std::map<std::string, double> m{{"loss", log_loss / double(log_n)},
                                          {"lr", optimizers_[0]->param_groups()[0].get("lr")}};
          if (sr.grad_norm >= 0) m["grad_norm"] = sr.grad_norm;
          if (progress) m["samples_per_s"] = progress->samples_per_second();
          m["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
          log_json(m, "train");
          log_loss = 0;
          log_n = 0;
        }
        if (on_step_end) on_step_end(*this, step_, sr);
        if (eval_every_steps_ > 0 && step_ % eval_every_steps_ == 0 && splits_.count("val")) {
          run_eval("val", r, progress.get());
          save(checkpoint_path("last"));
        }
        if (ckpt_every_ > 0 && step_ % ckpt_every_ == 0) save(checkpoint_path("last"));
      }
      if (batch_in_epoch_ >= nb) {
        // Epoch finished.
        pass.reset();
        ++epoch_;
        batch_in_epoch_ = 0;
        for (auto& s : schedulers_)
          if (s && !s->per_step() && !s->on_metric()) s->step();
        bool do_eval = splits_.count("val") && eval_every_ > 0 && epoch_ % eval_every_ == 0 && eval_every_steps_ == 0;
        if (do_eval) run_eval("val", r, progress.get());
        save(checkpoint_path("last"));
      }
    }
  } catch (...) {
    if (progress) progress->finish();
    throw;
  }
  r.interrupted = step_ < total_steps_;
  if (progress) progress->finish();
  // The run always ends with a validation pass (when the intervals did not just do one).
  if (!r.interrupted && splits_.count("val") && last_eval_step_ != step_) run_eval("val", r, progress.get());
  save(checkpoint_path("last"));
  r.last_checkpoint = checkpoint_path("last");
  if (has_best_) r.best_checkpoint = checkpoint_path("best");
  if (r.interrupted) {
    if (progress) progress->message("interrupted at step " + std::to_string(step_) + "; checkpoint saved to " + r.last_checkpoint +
                                    " (continue with --resume " + r.last_checkpoint + ")");
  } else if (splits_.count("test")) {
    // Final test evaluation with the best weights (by the configured validation metric).
    if (has_best_) load_weights(r.best_checkpoint);
    std::string report;
    auto m = evaluate("test", &report);
    log_json(m, "test");
    for (const auto& [k, v] : m) r.final_metrics["test/" + k] = v;
    std::ofstream rep(fs::path(output_dir_) / "report.txt");
    rep << "test (" << (has_best_ ? "best checkpoint by " + best_metric_ : "final weights") << "): " << format_metrics(m)
        << "\n" << report;
    if (has_best_) restore(load_checkpoint(r.last_checkpoint));
  }
  jsonl_->flush();
  if (plot_) {
    try {
      r.plots = plot_learning_curves((fs::path(output_dir_) / "metrics.jsonl").string(),
                                     (fs::path(output_dir_) / "plots").string());
    } catch (const std::exception& e) {
      if (progress) progress->message(std::string("warning: ") + e.what());
    }
  }
  r.steps = step_;
  r.epochs = epoch_;
  return r;
}

}  // namespace tessera::experiments
