// Trainer construction: one config section per function. Every section reads its keys through
// ConfigNode and ends with check_unknown(), so typos are reported with file:line:column.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/text/tokenizer_options.h"
#include "core/generator.h"
#include "core/threading.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "experiments/checkpoint.h"
#include "experiments/config_options.h"
#include "experiments/distributed/data_parallel.h"
#include "experiments/interop/tensorboard.h"
#include "experiments/trainer.h"
#include "nn/sync_batch_norm.h"

namespace tessera::experiments {

using config::ConfigError;

namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxThreads = 4096;  // trainer.threads
constexpr int64_t kMaxWorkers = 256;   // data.workers (each a thread with its own prefetched batches)

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

std::vector<std::string> string_list(const ConfigNode& n, const std::string& key, std::vector<std::string> def) {
  if (!n.has(key)) return def;
  std::vector<std::string> r;
  try {
    for (const auto& e : n.elements(key)) r.push_back(e.scalar());
  } catch (const ConfigError&) {
    r = {n.get_string(key)};  // a single pattern
  }
  return r;
}
}  // namespace

Trainer::Trainer(const config::Value& cfg, TrainerOptions opts) : opts_(std::move(opts)) { build(cfg); }
Trainer::~Trainer() = default;

int Trainer::rank() const { return dp_ ? dp_->rank() : 0; }
int Trainer::world_size() const { return dp_ ? dp_->world_size() : 1; }

void Trainer::build(const config::Value& cfg) {
  config_text_ = config::to_yaml(cfg);
  ConfigNode root(&cfg, "");
  if (!root.is_map()) throw ConfigError(cfg.origin.str() + ": expected a mapping of sections (model, data, ...)");
  // Unknown sections first: a misspelt `modle:` is reported as such, not as a missing 'model'.
  static const std::vector<std::string> kSections = {"model",  "data",      "loss",       "task",    "metrics",
                                                     "optimizer", "optimizers", "scheduler", "trainer"};
  for (const auto& [k, v] : cfg.map) {
    if (std::find(kSections.begin(), kSections.end(), k) != kSections.end()) continue;
    std::string list;
    for (const auto& n : kSections) list += (list.empty() ? "" : ", ") + n;
    auto s = config::did_you_mean(k, kSections);
    throw ConfigError(v.origin.str() + ": unknown key '" + k + "'" + (s ? " (did you mean '" + *s + "'?)" : "") +
                      "; the sections are " + list);
  }
  // The trainer section first: seed and threads apply before anything random is built; then the
  // model (so initial weights depend on trainer.seed only), data, task, strategy, optimizers.
  build_trainer_section(root.child("trainer"));
  ConfigNode m = root.child("model");
  // model.sync_bn: BatchNorm statistics over every rank's batch (a no-op in one process).
  const bool sync_bn = m.get_bool("sync_bn", false);
  // model.dtype: float64 trains in double precision (exactness tests; inputs must match).
  const std::string model_dtype = m.get_choice("dtype", {"float32", "float64"}, std::string("float32"));
  model_ = build_component(registry().models, m);
  m.check_unknown();
  if (model_dtype == "float64") model_->double_();
  if (sync_bn && dp_) nn::convert_sync_batchnorm(*model_, dp_->group());
  ConfigNode d = root.child("data");
  build_data(d);
  build_task(root, d);
  ConfigNode t = root.child("trainer");
  if (auto strat = t.optional_child("strategy")) {
    strategy_ = build_component(registry().strategies, *strat);
    strat->check_unknown();
  } else {
    strategy_ = std::make_unique<DefaultStrategy>();
  }
  resolve_best_metric(t);
  t.check_unknown();
  build_optimizers(root);
  root.check_unknown();

  ctx_.model = model_.get();
  ctx_.optimizers = optimizers();
  ctx_.task = task_.get();
  ctx_.grad_clip = grad_clip_;
  ctx_.precision = precision_;
  for (const auto& p : model_->parameters())
    if (p.requires_grad()) ctx_.parameters.push_back(p);
  if (dp_) {
    dp_->broadcast_module(*model_);  // identical replicas, whatever each rank initialised
    dp_->attach(ctx_);
  }
}

void Trainer::build_trainer_section(const ConfigNode& t) {
  epochs_ = t.get_int("epochs", 0);
  max_steps_ = t.get_int("max_steps", 0);
  if (epochs_ < 0) t.fail("epochs", "an integer >= 0");
  if (max_steps_ < 0) t.fail("max_steps", "an integer >= 0");
  if (epochs_ == 0 && max_steps_ == 0)
    throw ConfigError(t.origin().str() + ": trainer: missing required key 'trainer.epochs' or 'trainer.max_steps'");
  // Intervals: 0 turns a periodic action off (eval_every: 0 never validates after an epoch, the run
  // still ends with a validation pass; eval_every_steps/ckpt_every: 0 are the defaults, off);
  // negative values are errors.
  eval_every_ = t.get_int("eval_every", 1);
  eval_every_steps_ = t.get_int("eval_every_steps", 0);
  log_every_ = t.get_int("log_every", 50);
  ckpt_every_ = t.get_int("ckpt_every", 0);
  accumulate_ = t.get_int("accumulate", 1);
  if (eval_every_ < 0) t.fail("eval_every", "an integer >= 0 (epochs between validations; 0: only at the end)");
  if (eval_every_steps_ < 0) t.fail("eval_every_steps", "an integer >= 0 (steps between validations; 0: off)");
  if (ckpt_every_ < 0) t.fail("ckpt_every", "an integer >= 0 (steps between checkpoints; 0: at epoch ends only)");
  if (accumulate_ < 1) t.fail("accumulate", "an integer >= 1");
  if (log_every_ < 1) t.fail("log_every", "an integer >= 1");
  grad_clip_ = t.get_double("grad_clip", 0.0);
  if (!(std::isfinite(grad_clip_) && grad_clip_ >= 0)) t.fail("grad_clip", "a finite number >= 0 (0: no clipping)");
  precision_ = parse_precision(t.get_choice("precision", {"fp32", "bf16-mixed"}, std::string("fp32")));
  seed_ = uint64_t(t.get_int("seed", 0));
  int64_t threads = t.get_int("threads", 0);
  bool deterministic = t.get_bool("deterministic", true);
  // Joined first: only rank 0 touches the run folder below.
  if (auto dn = t.optional_child("distributed")) {
    DistributedOptions dopt;
    read_options(*dn, dopt);
    dn->check_unknown();
    dp_ = std::make_unique<DataParallel>(dopt);
    if (dp_->rank() != 0) opts_.quiet = true;  // one progress display: rank 0's
  }
  output_dir_ = t.get_string("output_dir");
  // A text dataset's tokenizer block without a vocabulary trains one and keeps it in the run folder.
  data::text::set_tokenizer_cache_dir((fs::path(output_dir_) / "tokenizer").string());
  // Temporaries of checkpoint writes killed mid-way (last.h5.tmp.<pid>) are never renamed: remove
  // those of processes that no longer run. A live writer (this or a concurrent run) is left alone.
  if (!dp_ || dp_->rank() == 0)  // data parallel: another host's pids say nothing about rank 0's writes
    for (const auto& dir : {fs::path(output_dir_), fs::path(output_dir_) / "checkpoints"}) remove_stale_temporaries(dir.string());
  best_metric_ = t.get_string("best_metric", std::string());
  best_mode_ = t.get_choice("best_mode", {"auto", "min", "max"}, std::string("auto"));
  std::string progress = t.get_choice("progress", {"auto", "bar", "plain", "none"}, std::string("auto"));
  if (opts_.progress_tty < 0 && progress != "auto") opts_.progress_tty = progress == "bar" ? 1 : 0;
  if (progress == "none") opts_.quiet = true;
  plot_ = t.get_bool("plot", true);
  // metrics.jsonl is always written (plots and --resume read it); tensorboard adds event files.
  if (t.has("loggers")) {
    for (const auto& e : t.elements("loggers")) {
      const std::string name = e.is_scalar() ? e.scalar() : "";
      if (name == "tensorboard") tensorboard_requested_ = true;
      else if (name != "jsonl")
        throw ConfigError(e.origin().str() + ": trainer.loggers: expected jsonl or tensorboard, got '" + name + "'");
    }
  }
  if (threads < 0 || threads > kMaxThreads)
    t.fail("threads", "an integer in 0.." + std::to_string(kMaxThreads) + " (0: all cores)");
  if (threads > 0) set_num_threads(int(threads));
  // Fixed thread counts make the parallel reductions' split (and so the results) repeatable.
  if (deterministic) omp_set_dynamic(0);
  manual_seed(seed_);
}

void Trainer::build_data(const ConfigNode& d) {
  // Set before any dataset is built: some decode images while they index or cache.
  const int64_t max_pixels = d.get_int("max_image_pixels", data::kDefaultMaxImagePixels);
  if (max_pixels < 0) d.fail("max_image_pixels", "an integer >= 0 (0: no limit)");
  data::set_max_image_pixels(max_pixels);
  // Files an image folder cannot read: counted and reported (skip), or an error naming the file.
  const std::string unknown = d.get_choice("unknown_files", {"skip", "error"}, std::string("skip"));
  data::set_unknown_files(unknown == "error" ? data::UnknownFiles::Error : data::UnknownFiles::Skip);
  for (const char* split : {"train", "val", "test"})
    if (auto n = d.optional_child(split)) splits_[split] = build_split(*n, split, d);
  if (!splits_.count("train")) throw ConfigError(d.origin().str() + ": missing required key 'data.train' (a mapping)");
  int64_t nb = splits_["train"]->loader->num_batches();
  if (nb == 0) throw ConfigError(d.origin().str() + ": data.train: no batches (dataset smaller than batch_size with drop_last)");
  steps_per_epoch_ = (nb + accumulate_ - 1) / accumulate_;
  total_steps_ = max_steps_ > 0 ? max_steps_ : epochs_ * steps_per_epoch_;
  if (epochs_ == 0) epochs_ = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;
}

// The task (the `task:` section, by default a supervised task over data.input_key ->
// data.target_key) with the `loss:` and `metrics:` sections.
void Trainer::build_task(const ConfigNode& root, const ConfigNode& d) {
  auto& reg = registry();
  TaskDefaults defaults;
  defaults.input_key = d.get_string("input_key", defaults.input_key);
  defaults.target_key = d.get_string("target_key", defaults.target_key);
  d.check_unknown();
  ConfigNode l = root.child("loss");
  LossFn loss = build_component(reg.losses, l);
  l.check_unknown();
  if (auto tn = root.optional_child("task")) {
    task_ = build_component(reg.tasks, *tn, defaults, std::move(loss));
    tn->check_unknown();
  } else {
    config::Value empty;
    empty.kind = config::Value::Kind::Map;
    task_ = build_named(reg.tasks, "supervised", ConfigNode(&empty, "task"), "name", defaults, std::move(loss));
  }
  if (!root.has("metrics")) return;
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
      config::Value empty;  // a plain name takes the defaults
      empty.kind = config::Value::Kind::Map;
      empty.origin = e.origin();
      task_->add_metric(build_named(reg.metrics, n, ConfigNode(&empty, e.path()), "name"));
      has_accuracy_ |= n == "accuracy";
    } else {
      std::string n = e.get_string("name");
      task_->add_metric(build_component(reg.metrics, e));
      e.check_unknown();
      has_accuracy_ |= n == "accuracy";
    }
  }
}

void Trainer::resolve_best_metric(const ConfigNode& t) {
  if (best_metric_.empty()) best_metric_ = splits_.count("val") ? (has_accuracy_ ? "val/accuracy" : "val/loss") : "";
  if (best_metric_.empty()) return;
  auto slash = best_metric_.find('/');
  if (slash == std::string::npos || best_metric_.substr(0, slash) != "val")
    t.fail("best_metric", "'val/<metric>' (e.g. val/accuracy or val/loss)");
  if (!splits_.count("val")) t.fail("best_metric", "a metric of the 'val' split, which needs data.val");
  if (best_mode_ == "auto") {
    std::string mn = best_metric_.substr(slash + 1);
    best_mode_ = (mn == "loss" || mn == "perplexity" || mn == "token_nll" || mn == "bits_per_token") ? "min" : "max";
  }
}

std::shared_ptr<Trainer::Split> Trainer::build_split(const ConfigNode& node, const std::string& name,
                                                     const ConfigNode& data) {
  auto& reg = registry();
  auto s = std::make_shared<Split>();
  s->name = name;
  ConfigNode ds = node.child("dataset");
  std::string ds_name = ds.get_string("name");
  int64_t start = ds.get_int("start", 0), end = ds.get_int("end", -1);
  auto base = build_named(reg.datasets, ds_name, ds, "name");
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
  if (node.has("transforms")) {
    for (const auto& t : node.elements("transforms")) {
      if (t.is_scalar()) {
        throw ConfigError(t.origin().str() + ": " + t.path() + ": expected a mapping {name: ..., options}");
      }
      std::string tn = t.get_string("name");
      ts.push_back(build_named(reg.transforms, tn, t, "name"));
      t.check_unknown();
    }
  }
  data::DataLoaderOptions lo;
  lo.batch_size = node.get_int("batch_size", data.get_int("batch_size", 32));
  if (lo.batch_size < 1) node.has("batch_size") ? node.fail("batch_size", "an integer >= 1") : data.fail("batch_size", "an integer >= 1");
  lo.shuffle = node.get_bool("shuffle", name == "train");
  lo.drop_last = node.get_bool("drop_last", false);
  const int64_t workers = node.get_int("workers", data.get_int("workers", 0));
  if (workers < 0 || workers > kMaxWorkers) {
    const std::string expected = "an integer in 0.." + std::to_string(kMaxWorkers) + " (data loading threads)";
    node.has("workers") ? node.fail("workers", expected) : data.fail("workers", expected);
  }
  lo.num_workers = int(workers);
  lo.seed = uint64_t(data.get_int("seed", int64_t(seed_))) + (name == "train" ? 0 : 1000003);
  // Data parallel: each rank trains on its slice of every global batch; evaluation is replicated
  // (every rank sees the whole split, so metrics need no reduction and are identical).
  if (dp_ && name == "train") {
    lo.shard_rank = dp_->rank();
    lo.shard_count = dp_->world_size();
    if (lo.batch_size < lo.shard_count)
      node.has("batch_size") ? node.fail("batch_size", "a global batch of at least one sample per rank (" +
                                                           std::to_string(lo.shard_count) + ")")
                             : data.fail("batch_size", "a global batch of at least one sample per rank (" +
                                                           std::to_string(lo.shard_count) + ")");
  }
  std::shared_ptr<const data::Sampler> sampler;
  if (node.has("sampler")) {
    ConfigNode sn = node.child("sampler");
    sampler = build_component(reg.samplers, sn, s->dataset, lo.seed);
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
  if (root.has("optimizers")) {
    if (root.has("optimizer")) root.fail("optimizer", "either 'optimizer' or 'optimizers', not both");
    specs = root.elements("optimizers");
    if (specs.empty()) root.fail("optimizers", "a non-empty list of optimizers");
  } else {
    specs.push_back(root.child("optimizer"));
  }
  auto named = model_->named_parameters();
  std::vector<bool> taken(named.size(), false);
  // The top-level `scheduler` belongs to the single-optimizer case. With several optimizers it would
  // be ambiguous (one shared schedule silently decayed HAG's gate lr, which the reference keeps
  // constant), so each optimizer names its own `scheduler` and one without keeps a constant lr.
  std::optional<ConfigNode> global_sched = root.optional_child("scheduler");
  if (global_sched && specs.size() > 1)
    root.fail("scheduler", "no top-level scheduler with several optimizers: give each optimizer its own "
                           "(optimizers[i].scheduler; an optimizer without one keeps a constant lr)");
  if (global_sched && specs[0].has("scheduler"))
    root.fail("scheduler", "one scheduler per optimizer: either the top-level 'scheduler' or " + specs[0].path() +
                               ".scheduler, not both");
  ScheduleInfo info{total_steps_, steps_per_epoch_, epochs_};
  for (size_t k = 0; k < specs.size(); ++k) {
    const ConfigNode& o = specs[k];
    // The optimizer's own option table reads the optimizer-level keys and, from a copy of
    // those, each group's overrides: a group accepts exactly the keys its optimizer does.
    optim::OptimizerSpec spec = build_component(reg.optimizers, o);
    auto patterns = string_list(o, "params", {"*"});
    struct GroupSpec {
      std::vector<std::string> match;
      int64_t max_ndim;
      std::unique_ptr<optim::OptimizerOptions> options;
    };
    std::vector<GroupSpec> gspecs;
    if (o.has("param_groups")) {
      for (const auto& g : o.elements("param_groups")) {
        GroupSpec gs;
        gs.match = string_list(g, "match", {});
        gs.max_ndim = g.get_int("max_ndim", -1);
        if (gs.match.empty() && gs.max_ndim < 0)
          g.fail("match", "a name pattern list ('match') and/or 'max_ndim' selecting the group's parameters");
        gs.options = spec.defaults->clone();
        read_options(g, *gs.options);
        g.check_unknown();
        gspecs.push_back(std::move(gs));
      }
    }
    std::vector<optim::ParamGroup> groups(gspecs.size() + 1);
    for (size_t i = 0; i < gspecs.size(); ++i) groups[i + 1].set_options(*gspecs[i].options);
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
    auto opt = spec.make(std::move(used), *spec.defaults);
    std::optional<ConfigNode> sched = o.optional_child("scheduler");
    if (!sched) sched = global_sched;
    if (sched) {
      schedulers_.push_back(build_component(reg.schedulers, *sched, *opt, info));
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

}  // namespace tessera::experiments
