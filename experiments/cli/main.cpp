// tessera: command-line front end of the trainer.
//   tessera train CONFIG [--set key=value]... [--resume CKPT | --init-from WEIGHTS]
//   tessera eval CONFIG --checkpoint CKPT [--split test|val] [--save-logits FILE.npy|.h5] [--set key=value]...
//   tessera predict CONFIG --checkpoint CKPT --input [KEY=]DIR_OR_FILE... [--out preds.csv] [--topk K]
//   tessera export CKPT --format pytorch-h5|safetensors|onnx --out FILE [--config CONFIG]
//   tessera info CKPT [--verify]
//   tessera bench MODEL... [--batch N] [--iters N] [--warmup N] [--threads N] [--seq-len N] [--profile]
//                 [--precision fp32|bf16-mixed]
//   tessera bench-data CONFIG [--split train] [--workers 0 1 2] [--batches N] [--set key=value]...
//   tessera generate CONFIG --checkpoint CKPT --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
//                    [--seed S] [--state FILE]
//   tessera eval-needle CONFIG --checkpoint CKPT [--lengths 1024,2048,4096] [--samples N] [--seed S]
//   tessera list
//   tessera tokenizer train --type bpe|unigram --vocab-size N --input FILE --output DIR
// Any error prints one line "tessera: error: ..." and exits with status 1; an interrupted
// training run (Ctrl-C) saves its checkpoint and exits with status 130.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "autograd/ops/shape.h"
#include "core/kernels/conv.h"
#include "core/kernels/copy.h"
#include "core/kernels/matmul.h"
#include "core/threading.h"
#include "data/text/sentencepiece.h"
#include "experiments/bench.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/generate.h"
#include "experiments/interop/onnx_export.h"
#include "experiments/predict.h"
#include "experiments/safetensors.h"
#include "experiments/registry.h"
#include "experiments/trainer.h"

using namespace tessera;
using namespace tessera::experiments;

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

void print_metrics(const std::string& split, const std::map<std::string, double>& m) {
  std::ostringstream os;
  os.precision(4);
  os << std::fixed;
  for (const auto& [k, v] : m) {
    auto slash = k.find('/');
    if (slash == std::string::npos || k.substr(0, slash) != split) continue;
    os << "  " << k.substr(slash + 1) << " " << v;
  }
  std::printf("%s:%s\n", split.c_str(), os.str().c_str());
}

int cmd_train(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& resume,
              const std::string& init_from, const std::string& progress) {
  config::Value cfg = config::load(cfg_path, sets);
  TrainerOptions o;
  if (!resume.empty()) o.resume = resume;
  if (progress == "bar") o.progress_tty = 1;
  if (progress == "plain") o.progress_tty = 0;
  Trainer t(cfg, o);
  if (!init_from.empty()) t.load_weights(init_from);  // weights only: optimizer and step start fresh
  auto t0 = std::chrono::steady_clock::now();
  FitResult r = t.fit();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.interrupted) {
    std::printf("interrupted at step %lld; checkpoint: %s\n", (long long)r.steps, r.last_checkpoint.c_str());
    return 130;
  }
  if (!t.is_main_process()) return 0;  // data parallel: rank 0 reports the run
  std::printf("finished %lld steps (%lld epochs) in %.1f s\n", (long long)r.steps, (long long)r.epochs, secs);
  if (t.has_split("val")) print_metrics("val", r.final_metrics);
  if (t.has_split("test")) {
    print_metrics("test", r.final_metrics);
    auto it = r.final_metrics.find("test/accuracy");
    if (it != r.final_metrics.end()) std::printf("test accuracy: %.2f%%\n", 100.0 * it->second);
  }
  std::printf("run folder:      %s\n", r.output_dir.c_str());
  std::printf("last checkpoint: %s\n", r.last_checkpoint.c_str());
  if (!r.best_checkpoint.empty()) std::printf("best checkpoint: %s\n", r.best_checkpoint.c_str());
  std::printf("metrics log:     %s/metrics.jsonl\n", r.output_dir.c_str());
  if (!r.plots.empty()) std::printf("plots:           %s/plots/ (%zu PNG files)\n", r.output_dir.c_str(), r.plots.size());
  return 0;
}

// data.<key> of a config (the trainer has already checked it), or its default.
std::string data_key(const config::Value& cfg, const std::string& key, const std::string& fallback) {
  const config::Value* d = cfg.find("data");
  const config::Value* v = d ? d->find(key) : nullptr;
  return v && v->kind == config::Value::Kind::Scalar ? v->scalar : fallback;
}

// The batch fields the model reads: the task's `inputs` (supervised, several for a multi-input
// model) or `input` (language_modeling: "input" by default), else data.input_key.
std::vector<std::string> model_input_keys(const config::Value& cfg) {
  const config::Value* task = cfg.find("task");
  const config::Value* name = task ? task->find("name") : nullptr;
  if (const config::Value* ins = task ? task->find("inputs") : nullptr; ins && ins->kind == config::Value::Kind::Seq) {
    std::vector<std::string> keys;
    for (const auto& v : ins->seq) keys.push_back(v.scalar);
    return keys;
  }
  if (const config::Value* in = task ? task->find("input") : nullptr; in && in->kind == config::Value::Kind::Scalar) return {in->scalar};
  if (name && name->kind == config::Value::Kind::Scalar && name->scalar == "language_modeling") return {"input"};
  return {data_key(cfg, "input_key", "image")};
}

// The file the logits of `split` go to: FILE itself for one split, FILE with ".<split>" before its
// extension when several are evaluated.
std::string logits_path(const std::string& file, const std::string& split, bool several) {
  if (!several) return file;
  const auto dot = file.rfind('.');
  return file.substr(0, dot) + "." + split + file.substr(dot);
}

// Every batch's model output (float32, rows in dataset order) and, when the batch has one, its
// target; for .h5 files also the model's inputs ("input", or "input.<field>" each when the model
// reads several), so another tool can be fed exactly what Tessera saw (token ids of an LM, say).
struct LogitsCollector {
  std::string target_key;
  std::vector<std::string> input_keys;
  TensorList outputs, targets;
  std::map<std::string, TensorList> inputs;
  void operator()(const TaskOutput& out, const data::Batch& b) {
    const Tensor& y = out.outputs.has("output") ? out.outputs.at("output") : out.outputs.tensors.begin()->second;
    outputs.push_back(kernels::to_dtype(y.detach(), DType::Float32));
    if (b.tensors.count(target_key)) targets.push_back(b.at(target_key));
    for (const auto& k : input_keys)
      if (b.tensors.count(k)) inputs[k].push_back(b.at(k));
  }
  void save(const std::string& path) const {
    if (outputs.empty()) throw std::invalid_argument(path + ": no batches were evaluated");
    Tensor logits = cat(outputs, 0);
    if (path.ends_with(".npy")) {
      save_npy(path, logits);
    } else {
      nn::StateDict sd;
      sd.insert("logits", logits);
      if (targets.size() == outputs.size()) sd.insert("targets", cat(targets, 0));
      for (const auto& [k, parts] : inputs)
        if (parts.size() == outputs.size()) sd.insert(input_keys.size() == 1 ? "input" : "input." + k, cat(parts, 0));
      export_pytorch_h5(path, sd);
    }
    std::printf("saved logits %s to %s\n", shape_str(logits.shape()).c_str(), path.c_str());
  }
};

int cmd_eval(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& ckpt,
             std::vector<std::string> splits, const std::string& save_logits) {
  if (!save_logits.empty() && !save_logits.ends_with(".npy") && !save_logits.ends_with(".h5"))
    throw std::invalid_argument("eval: --save-logits " + save_logits + ": expected a .npy or .h5 file name");
  config::Value cfg = config::load(cfg_path, sets);
  TrainerOptions o;
  o.quiet = true;
  Trainer t(cfg, o);
  t.load_weights(ckpt);
  if (splits.empty()) {
    for (const char* s : {"val", "test"})
      if (t.has_split(s)) splits.push_back(s);
    if (splits.empty()) throw std::invalid_argument("eval: the config has neither data.val nor data.test");
  }
  for (const auto& s : splits) {
    std::string report;
    LogitsCollector logits{data_key(cfg, "target_key", "label"), save_logits.ends_with(".h5") ? model_input_keys(cfg) : std::vector<std::string>{}};
    auto m = save_logits.empty() ? t.evaluate(s, &report) : t.evaluate(s, &report, std::ref(logits));
    if (!save_logits.empty()) logits.save(logits_path(save_logits, s, splits.size() > 1));
    std::map<std::string, double> prefixed;
    for (const auto& [k, v] : m) prefixed[s + "/" + k] = v;
    print_metrics(s, prefixed);
    if (auto it = m.find("accuracy"); it != m.end()) std::printf("%s accuracy: %.2f%%\n", s.c_str(), 100.0 * it->second);
    if (!report.empty()) std::printf("%s", report.c_str());
  }
  return 0;
}

int cmd_predict(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& ckpt,
                const std::vector<std::string>& inputs, const std::string& out, int64_t topk, std::string split) {
  config::Value cfg = config::load(cfg_path, sets);
  TrainerOptions o;
  o.quiet = true;
  Trainer t(cfg, o);
  t.load_weights(ckpt);
  if (split.empty()) split = t.has_split("test") ? "test" : t.has_split("val") ? "val" : "train";
  if (!t.has_split(split)) throw std::invalid_argument("predict: the config has no data." + split + " split");
  // The split's eval transforms (resize, normalize) and its class names, when an ImageFolder.
  data::DataLoader& loader = t.loader(split);
  PredictOptions po;
  po.topk = topk;
  po.batch_size = loader.options().batch_size;
  po.input_key = data_key(cfg, "input_key", "image");
  po.model_inputs = model_input_keys(cfg);  // several for a multi-input model
  // --input PATH feeds data.input_key; --input KEY=PATH feeds the example field KEY (a multistream
  // net's image=, mask=, depth= files, paired by name).
  std::vector<std::pair<std::string, std::vector<std::string>>> keyed;
  for (const auto& in : inputs) {
    const auto eq = in.find('=');
    std::string key = po.input_key, path = in;
    if (eq != std::string::npos && !std::filesystem::exists(in)) key = in.substr(0, eq), path = in.substr(eq + 1);
    if (key.empty()) throw std::invalid_argument("predict: --input " + in + ": expected PATH or KEY=PATH");
    auto it = std::find_if(keyed.begin(), keyed.end(), [&](const auto& k) { return k.first == key; });
    if (it == keyed.end()) it = keyed.emplace(keyed.end(), key, std::vector<std::string>{});
    it->second.push_back(path);
  }
  const std::vector<std::string> names = class_names_of(loader.dataset());
  std::vector<std::string> order;
  for (const auto& [k, paths] : keyed) order.push_back(k);
  const std::vector<InputFiles> examples = pair_input_images(keyed);
  std::vector<Prediction> preds = predict_examples(t.model(), examples, order, loader.transform(), po);
  const std::string csv = predictions_csv(preds, names);
  if (out.empty()) {
    std::fputs(csv.c_str(), stdout);
  } else {
    write_atomically(out, [&](const std::string& tmp) {
      std::FILE* f = std::fopen(tmp.c_str(), "wb");
      if (!f) throw std::runtime_error(out + ": cannot write (" + std::strerror(errno) + ")");
      const bool written = std::fwrite(csv.data(), 1, csv.size(), f) == csv.size();
      const int write_errno = errno;
      if (std::fclose(f) != 0 || !written)
        throw std::runtime_error(out + ": cannot write (" + std::strerror(written ? errno : write_errno) + ")");
    });
    std::printf("predicted %zu files; %s\n", preds.size(), out.c_str());
  }
  return 0;
}

int cmd_info(const std::string& path, bool verify) {
  if (verify) {
    VerifyReport v = verify_checkpoint(path);
    std::printf("verify: %s: %lld datasets, %lld with a Fletcher32 checksum\n", path.c_str(), (long long)v.datasets,
                (long long)v.checksummed);
    if (v.checksummed < v.datasets)
      std::printf("verify: %lld datasets carry no checksum (written before checksums, or empty)\n",
                  (long long)(v.datasets - v.checksummed));
    for (const auto& e : v.errors) std::printf("verify: FAILED: %s\n", one_line(e).c_str());
    if (!v.ok()) {
      std::fflush(stdout);
      throw std::runtime_error(path + ": verification failed (" + std::to_string(v.errors.size()) + " problem(s))");
    }
    std::printf("verify: OK\n");
  }
  TrainingCheckpoint c = load_checkpoint(path);
  int64_t params = 0;
  for (const auto& [k, t] : c.model) params += t.numel();
  std::printf("checkpoint: %s\n", path.c_str());
  std::printf("step: %lld  epoch: %lld\n", (long long)c.step, (long long)c.epoch);
  std::printf("model: %zu tensors, %lld values\n", c.model.size(), (long long)params);
  std::printf("optimizers: %zu  schedulers: %zu\n", c.optimizers.size(), c.schedulers.size());
  for (const auto& [k, v] : c.metrics) std::printf("  %s = %g\n", k.c_str(), v);
  for (const auto& [k, s] : c.rng) std::printf("  rng %s: seed %llu offset %llu\n", k.c_str(), (unsigned long long)s.seed, (unsigned long long)s.offset);
  std::printf("config:\n%s", c.config.c_str());
  return 0;
}

int cmd_export(const std::string& ckpt, const std::string& format, const std::string& out, const std::string& cfg_path) {
  if (format != "pytorch-h5" && format != "safetensors" && format != "onnx")
    throw std::invalid_argument("export: unknown format '" + format + "' (supported: pytorch-h5, safetensors, onnx)");
  // Writing over the checkpoint being exported would lose the training state.
  std::error_code same_ec;
  if (std::filesystem::exists(out) && std::filesystem::equivalent(out, ckpt, same_ec))
    throw std::invalid_argument("export: --out " + out + " is the checkpoint being exported; choose another file");
  TrainingCheckpoint c = load_checkpoint(ckpt);
  if (format == "onnx") {
    // The graph needs the architecture: the model is rebuilt from the checkpoint's own config.
    if (cfg_path.empty() && c.config.empty()) throw std::invalid_argument("export: " + ckpt + " holds no config; pass --config");
    config::Value cfg = cfg_path.empty() ? config::parse(c.config, ckpt + ":config") : config::load(cfg_path);
    ConfigNode m = ConfigNode(&cfg, "").child("model");
    nn::ModulePtr model = build_component(registry().models, m);
    try {
      model->load_state_dict(c.model, true);
    } catch (const std::exception& e) {
      throw std::invalid_argument(ckpt + ": the checkpoint's model does not fit the config's (" +
                                  (cfg_path.empty() ? ckpt + ":config" : cfg_path) + "): " + e.what());
    }
    model->eval();
    export_onnx(out, *model);
    std::printf("exported %s (ONNX opset %d) to %s\n", model->type_name().c_str(), kOnnxOpset, out.c_str());
    return 0;
  }
  if (format == "safetensors")
    save_safetensors(out, c.model, {{"format", "pt"}, {"tessera_step", std::to_string(c.step)}});
  else
    export_pytorch_h5(out, c.model);
  std::printf("exported %zu tensors to %s\n", c.model.size(), out.c_str());
  return 0;
}

int cmd_bench(const std::vector<std::string>& models, int64_t batch, int iters, int warmup, int threads,
              int64_t seq_len, bool profile, const std::string& precision) {
  if (threads <= 0)
    if (const char* e = std::getenv("THREADS")) threads = std::atoi(e);
  if (threads > 0) set_num_threads(threads);
  for (const auto& m : models) {
    if (m == "pluecker") {
      for (const auto& r : bench_pluecker(batch > 0 ? batch : 32 * 128, 32, warmup, std::max(iters, 20)))
        std::printf("%s peak_mb=%.1f\n", r.line().c_str(), r.peak_mb);
      std::fflush(stdout);
      continue;
    }
    if (m == "neural_memory" || m == "neural_memory_autograd") {  // the Titans layer alone, T = 1K and 4K
      for (int64_t T : {1024, 4096}) {
        LayerBenchResult r = bench_neural_memory(T, batch > 0 ? batch : 1, warmup, iters,
                                                 m == "neural_memory" ? "closed_form" : "autograd");
        std::printf("%s\n", r.line().c_str());
        std::fflush(stdout);
      }
      continue;
    }
    BenchResult r = bench_train_step(m, batch, warmup, iters, seq_len, profile, precision);
    std::printf("%s\n%s", r.line().c_str(), r.profile_table().c_str());
    std::fflush(stdout);
  }
  return 0;
}

// Times a config's data pipeline alone (dataset decode + transforms + collation, no model) for
// each worker count: the first batch (worker start-up, caches) is not counted.
int cmd_bench_data(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& split,
                   const std::vector<int>& workers, int batches) {
  for (int w : workers) {
    std::vector<std::string> s = sets;
    s.push_back("data." + split + ".workers=" + std::to_string(w));
    config::Value cfg = config::load(cfg_path, s);
    TrainerOptions o;
    o.quiet = true;
    Trainer t(cfg, o);
    data::DataLoader& loader = t.loader(split);
    loader.set_epoch(0);
    int64_t samples = 0, n = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (const data::Batch& b : loader) {
      if (n == 0) t0 = std::chrono::steady_clock::now();
      else samples += b.size();
      if (++n > batches) break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (n < 2) throw std::invalid_argument("bench-data: the " + split + " split has fewer than 2 batches");
    std::printf("%s workers=%d batches=%lld samples_per_s=%.1f\n", split.c_str(), w, (long long)(n - 1),
                double(samples) / secs);
    std::fflush(stdout);
  }
  return 0;
}

// The model of a config with a checkpoint's weights, in eval mode.
std::unique_ptr<Trainer> trained_model(const std::string& cfg_path, const std::vector<std::string>& sets,
                                       const std::string& ckpt, config::Value* cfg_out) {
  config::Value cfg = config::load(cfg_path, sets);
  TrainerOptions o;
  o.quiet = true;
  auto t = std::make_unique<Trainer>(cfg, o);
  t->load_weights(ckpt);
  t->model().eval();
  if (cfg_out) *cfg_out = cfg;
  return t;
}

int cmd_generate(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& ckpt,
                 const std::string& prompt, const SamplingOptions& so, const std::string& state_file) {
  config::Value cfg;
  auto t = trained_model(cfg_path, sets, ckpt, &cfg);
  Tokenizer tok = tokenizer_for(cfg);
  TextGenerator gen(t->model(), model_max_context(t->model()));
  if (!state_file.empty() && std::filesystem::exists(state_file)) gen.load(state_file);
  std::vector<int64_t> ids = gen.generate(tok.encode(prompt), so);
  std::printf("%s%s\n", prompt.c_str(), tok.decode(ids).c_str());
  if (!state_file.empty()) gen.save(state_file);
  return 0;
}

int cmd_eval_needle(const std::string& cfg_path, const std::vector<std::string>& sets, const std::string& ckpt,
                    const std::vector<int64_t>& lengths, int64_t samples, uint64_t seed, const std::string& haystack,
                    const std::string& corpus) {
  config::Value cfg;
  auto t = trained_model(cfg_path, sets, ckpt, &cfg);
  if (tokenizer_for(cfg).kind != "bytes")
    throw std::invalid_argument("eval-needle: the model must be trained on bytes (char_text tokenizer: bytes, or needle)");
  for (int64_t L : lengths) {
    NeedleResult r = evaluate_needle(t->model(), L, samples, seed, haystack, corpus);
    std::printf("needle length=%lld samples=%lld correct=%lld accuracy=%.4f\n", (long long)r.length,
                (long long)r.samples, (long long)r.correct, r.accuracy());
    std::fflush(stdout);
  }
  return 0;
}

int cmd_list(const std::string& kind, const std::string& name, bool verbose) {
  std::fputs(describe_components(kind, name, verbose).c_str(), stdout);
  return 0;
}

// Trains a sentencepiece vocabulary: DIR/sentencepiece.model (+ .vocab), usable as
// tokenizer: {type: sentencepiece, vocab: DIR/sentencepiece.model}.
int cmd_tokenizer_train(const std::string& type, int64_t vocab_size, const std::string& input, const std::string& dir) {
  data::text::SentencePieceTrainOptions o;
  o.algorithm = type;
  o.vocab_size = vocab_size;
  const std::string model = dir + "/sentencepiece.model";
  data::text::train_sentencepiece(input, model, o);
  data::text::SentencePiece sp(model);
  std::printf("%s: sentencepiece %s, %lld pieces (ids 0..3: <unk> <s> </s> <pad>)\n", model.c_str(), type.c_str(),
              (long long)sp.vocab_size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tessera: train, evaluate, export and benchmark models from YAML run configs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");

  std::string cfg, resume, ckpt, out, format = "pytorch-h5", progress = "auto";
  std::vector<std::string> sets, splits, models;
  int64_t batch = 0, seq_len = 0;
  int iters = 5, warmup = 2, threads = 0;

  auto* train = app.add_subcommand("train", "train a model from a YAML run config");
  train->add_option("config", cfg, "run config (YAML)")->required()->check(CLI::ExistingFile);
  train->add_option("--set", sets, "override a config key: --set trainer.epochs=3 (repeatable)")->take_all()->allow_extra_args(false);
  train->add_option("--resume", resume, "continue from a training checkpoint")->check(CLI::ExistingFile);
  std::string init_from;
  train->add_option("--init-from", init_from, "start from these weights (training checkpoint or .safetensors)")
      ->check(CLI::ExistingFile)
      ->excludes(train->get_option("--resume"));
  train->add_option("--progress", progress, "auto (bar on a terminal), bar or plain")->check(CLI::IsMember({"auto", "bar", "plain"}));

  auto* eval = app.add_subcommand("eval", "evaluate a checkpoint on the config's val/test splits");
  eval->add_option("config", cfg, "run config (YAML)")->required()->check(CLI::ExistingFile);
  eval->add_option("--checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  eval->add_option("--split", splits, "split(s) to evaluate (default: val and test when configured)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  eval->add_option("--set", sets, "override a config key (repeatable)")->allow_extra_args(false);
  std::string save_logits;
  eval->add_option("--save-logits", save_logits,
                   "write the model outputs (and targets, .h5) of each split to FILE.npy or FILE.h5 "
                   "(FILE.<split>.npy when several splits)");

  std::vector<std::string> inputs;
  std::string predict_split;
  int64_t topk = 5;
  auto* pred = app.add_subcommand("predict", "classify image files with a trained checkpoint: top-k classes per file as CSV");
  pred->add_option("config", cfg, "run config (YAML) the checkpoint was trained with")->required()->check(CLI::ExistingFile);
  pred->add_option("--checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  pred->add_option("--input", inputs,
                   "image files and/or folders (searched recursively); KEY=PATH gives the example field KEY for a "
                   "model with several inputs (e.g. image=frames/ mask=masks/: files paired by name without extension)")
      ->required();
  pred->add_option("--out", out, "CSV file to write (default: standard output)");
  pred->add_option("--topk", topk, "classes per file")->check(CLI::PositiveNumber);
  pred->add_option("--split", predict_split, "whose eval transforms and class names to use (default: test, else val)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  pred->add_option("--set", sets, "override a config key (repeatable)")->allow_extra_args(false);

  auto* exp = app.add_subcommand("export", "export a checkpoint's weights for PyTorch (h5py)");
  exp->add_option("checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  exp->add_option("--format", format, "pytorch-h5 (h5py datasets), safetensors or onnx (opset 17: ResNet, HagResNet, MultiStreamNet, ViT, TransformerLM)")
      ->check(CLI::IsMember({"pytorch-h5", "safetensors", "onnx"}));
  exp->add_option("--config", cfg, "run config for --format onnx (default: the one saved in the checkpoint)")
      ->check(CLI::ExistingFile);
  exp->add_option("--out", out, "output file")->required();

  auto* info = app.add_subcommand("info", "print a checkpoint's step, metrics and config");
  info->add_option("checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  bool verify = false;
  info->add_flag("--verify", verify, "read every dataset, checking its checksum and the checkpoint's values; exit 1 on damage");

  auto* bench = app.add_subcommand("bench", "time a full training step (forward, cross-entropy, backward, AdamW)");
  bench->add_option("model", models,
                    "vit_t, resnet18, lm, small_cnn, tiny_moat0, tiny_moat0_224, grassmann_lm, transformer_lm, "
                    "transformer_pp, titans_mac, neural_memory (Titans LMM layer, T = 1K/4K), "
                    "pluecker (fused vs naive Pluecker step; --batch = rows)")
      ->required();
  bench->add_option("--seq-len,--seq", seq_len,
                    "tokens per row: grassmann_lm / transformer_lm (default 128), transformer_pp / titans_mac (1024)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--batch", batch, "batch size (default: the workload's)")->check(CLI::PositiveNumber);
  bench->add_option("--iters", iters, "timed steps (median reported)")->check(CLI::PositiveNumber);
  bench->add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  bench->add_option("--threads", threads, "threads (default: $THREADS, else all cores)")->check(CLI::NonNegativeNumber);
  bool bench_profile = false;
  bench->add_flag("--profile", bench_profile,
                  "time the steps by op family (gemm, bmm, conv, softmax, norm, elementwise, reductions, copies, "
                  "optimizer, allocator, autograd engine, framework) and count allocations per step");
  std::string precision = "fp32";
  bench->add_option("--precision", precision, "fp32 or bf16-mixed (autocast: matrix products in bfloat16)")
      ->check(CLI::IsMember({"fp32", "bf16-mixed"}));

  std::string data_split = "train";
  std::vector<int> worker_counts{0, 1, 2};
  int data_batches = 20;
  auto* bench_data = app.add_subcommand("bench-data", "time a config's data pipeline alone for several worker counts");
  bench_data->add_option("config", cfg, "run config (YAML)")->required()->check(CLI::ExistingFile);
  bench_data->add_option("--split", data_split, "split to read")->check(CLI::IsMember({"train", "val", "test"}));
  bench_data->add_option("--workers", worker_counts, "worker counts to time (default 0 1 2)")
      ->check(CLI::NonNegativeNumber);
  bench_data->add_option("--batches", data_batches, "timed batches after the first")->check(CLI::PositiveNumber);
  bench_data->add_option("--set", sets, "override a config key (repeatable)")->allow_extra_args(false);

  std::string list_kind, list_name;
  bool verbose = false;
  auto* list = app.add_subcommand("list", "list the registered models, datasets, optimizers, ... and their options");
  list->add_option("kind", list_kind, "model, dataset, transform, sampler, optimizer, scheduler, loss, metric, strategy, task");
  list->add_option("name", list_name, "one entry: its option table");
  list->add_flag("--verbose,-v", verbose, "every entry's options: key, type, default, doc");

  std::string tok_type = "bpe", tok_input, tok_output;
  int64_t tok_vocab = 8000;
  auto* tokenizer = app.add_subcommand("tokenizer", "tokenizer tools");
  tokenizer->require_subcommand(1);
  auto* tok_train = tokenizer->add_subcommand("train", "train a sentencepiece vocabulary (BPE or unigram) on a text file");
  tok_train->add_option("--type", tok_type, "bpe or unigram (sentencepiece's trainers)")->check(CLI::IsMember({"bpe", "unigram"}));
  tok_train->add_option("--vocab-size", tok_vocab, "vocabulary size (an upper bound on small texts)")->check(CLI::Range(int64_t(8), int64_t(1) << 20));
  tok_train->add_option("--input", tok_input, "training text, one sentence or paragraph per line")->required()->check(CLI::ExistingFile);
  tok_train->add_option("--output", tok_output, "folder for sentencepiece.model and sentencepiece.vocab")->required();

  std::string prompt, state_file;
  SamplingOptions so;
  int64_t seed = 0;
  auto* generate = app.add_subcommand("generate", "generate text from a checkpoint (memory models keep learning at test time)");
  generate->add_option("config", cfg, "run config (YAML) the checkpoint was trained with")->required()->check(CLI::ExistingFile);
  generate->add_option("--checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  generate->add_option("--prompt", prompt, "text to continue")->required();
  generate->add_option("--max-new-tokens", so.max_new_tokens, "tokens to generate")->check(CLI::PositiveNumber);
  generate->add_option("--temperature", so.temperature, "softmax temperature; 0: greedy")->check(CLI::NonNegativeNumber);
  generate->add_option("--top-k", so.top_k, "sample among the k most likely tokens (0: all)")->check(CLI::NonNegativeNumber);
  generate->add_option("--seed", seed, "sampling seed");
  generate->add_option("--state", state_file,
                       "continue from this generation state (history and memory) if it exists, and save it after");
  generate->add_option("--set", sets, "override a config key (repeatable)")->allow_extra_args(false);

  std::vector<int64_t> needle_lengths{1024, 2048, 4096};
  int64_t needle_samples = 20;
  std::string haystack = "filler", corpus;
  auto* eval_needle = app.add_subcommand("eval-needle", "single-needle retrieval accuracy vs context length (byte models)");
  eval_needle->add_option("config", cfg, "run config (YAML) the checkpoint was trained with")->required()->check(CLI::ExistingFile);
  eval_needle->add_option("--checkpoint", ckpt, "training checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  eval_needle->add_option("--lengths", needle_lengths, "prompt lengths in bytes (comma-separated)")->delimiter(',');
  eval_needle->add_option("--samples", needle_samples, "needles per length")->check(CLI::PositiveNumber);
  eval_needle->add_option("--seed", seed, "needle seed (the length is added, so lengths differ)");
  eval_needle->add_option("--haystack", haystack, "filler sentences or corpus text")->check(CLI::IsMember({"filler", "corpus"}));
  eval_needle->add_option("--corpus", corpus, "text file for --haystack corpus")->check(CLI::ExistingFile);
  eval_needle->add_option("--set", sets, "override a config key (repeatable)")->allow_extra_args(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    kernels::check_matmul_environment();
    kernels::check_conv_environment();
    if (*train) return cmd_train(cfg, sets, resume, init_from, progress);
    if (*eval) return cmd_eval(cfg, sets, ckpt, splits, save_logits);
    if (*pred) return cmd_predict(cfg, sets, ckpt, inputs, out, topk, predict_split);
    if (*exp) return cmd_export(ckpt, format, out, cfg);
    if (*info) return cmd_info(ckpt, verify);
    if (*bench) return cmd_bench(models, batch, iters, warmup, threads, seq_len, bench_profile, precision);
    if (*tok_train) return cmd_tokenizer_train(tok_type, tok_vocab, tok_input, tok_output);
    if (*generate) {
      so.seed = uint64_t(seed);
      return cmd_generate(cfg, sets, ckpt, prompt, so, state_file);
    }
    if (*eval_needle) return cmd_eval_needle(cfg, sets, ckpt, needle_lengths, needle_samples, uint64_t(seed), haystack, corpus);
    if (*bench_data) return cmd_bench_data(cfg, sets, data_split, worker_counts, data_batches);
    return cmd_list(list_kind, list_name, verbose);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "tessera: error: %s\n", one_line(e.what()).c_str());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "tessera: error: unknown exception\n");
    return 1;
  }
}
