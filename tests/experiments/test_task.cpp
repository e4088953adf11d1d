// The Task seam: a model with two named inputs and a carried state, registered from this file
// alone (no trainer change), trains, evaluates and resumes bit for bit through YAML; evaluation
// goes through the strategy; task options are checked like every other section.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "autograd/tessera.h"
#include "experiments/config.h"
#include "experiments/registry.h"
#include "experiments/trainer.h"
#include "nn/linear.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

// Two input fields "a" [4] and "b" [3]; the label depends on both.
class TwoFieldData : public data::Dataset {
 public:
  explicit TwoFieldData(int64_t n, uint64_t offset) : n_(n), offset_(offset) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t i) const override {
    check_index(i, "two_field");
    Generator g(1000 + offset_ + uint64_t(i));
    data::Example e;
    e.tensors["a"] = randn({4}, {}, &g);
    e.tensors["b"] = randn({3}, {}, &g);
    double s = sum(e.tensors["a"]).item_double() - 2 * sum(e.tensors["b"]).item_double();
    e.tensors["label"] = scalar_tensor(s > 0 ? 1 : 0, {.dtype = DType::Int64});
    return e;
  }

 private:
  int64_t n_;
  uint64_t offset_;
};

// h = tanh(A a + B b + memory); logits = head(h); the new memory is a running mean of h over
// batches: memory' = 0.5 memory + 0.5 mean_batch(h). The first batch of an epoch has no memory.
struct TwoInputMemoryNet : nn::Module {
  std::shared_ptr<nn::Linear> fa, fb, head;
  int64_t forwards = 0, forwards_with_memory = 0;
  TwoInputMemoryNet() {
    fa = register_module("fa", std::make_shared<nn::Linear>(4, 8));
    fb = register_module("fb", std::make_shared<nn::Linear>(3, 8));
    head = register_module("head", std::make_shared<nn::Linear>(8, 2));
  }
  std::string type_name() const override { return "TwoInputMemoryNet"; }
  nn::ModelOutput forward_named(const nn::ModelInput& in) override {
    Tensor pre = add((*fa)(in.at("a")), (*fb)(in.at("b")));
    ++forwards;
    if (auto it = in.state.find("memory"); it != in.state.end()) {
      EXPECT_FALSE(it->second.requires_grad()) << "carried state must arrive detached";
      pre = add(pre, it->second);
      ++forwards_with_memory;
    }
    Tensor h = tanh(pre);
    nn::ModelOutput out;
    out.tensors["logits"] = (*head)(h);
    Tensor m = mean(h, {0});
    out.state["memory"] = in.state.count("memory") ? add(mul(in.state.at("memory"), 0.5), mul(m, 0.5)) : m;
    return out;
  }
};

struct TwoFieldOptions {
  int64_t num_samples = 0;
  int64_t offset = 0;
};
void visit_options(TwoFieldOptions& o, OptionVisitor& v) {
  v.require("num_samples");
  v("num_samples", o.num_samples, "examples");
  v("offset", o.offset, "seed offset of the examples");
}

// Registered from the test itself: a new model family and dataset need no trainer change.
void register_test_components() {
  auto& r = registry();
  r.datasets.add("two_field", TwoFieldOptions{}, [](const TwoFieldOptions& o) -> std::shared_ptr<const data::Dataset> {
    return std::make_shared<TwoFieldData>(o.num_samples, uint64_t(o.offset));
  }, "two input fields a, b and a label");
  r.models.add_plain("two_input_memory", [] { return nn::ModulePtr(std::make_shared<TwoInputMemoryNet>()); },
                     "two named inputs and a carried memory");
}

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_test_task_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// 30 examples, batch 4 -> 8 batches per epoch (the last one of 2), 2 epochs.
std::string yaml(const std::string& out, const std::string& workers = "0") {
  return R"(model: {name: two_input_memory}
task: {name: supervised, inputs: [a, b], target: label, output: logits, carry_state: true}
data:
  batch_size: 4
  workers: )" + workers + R"(
  train: {dataset: {name: two_field, num_samples: 30}, shuffle: true}
  val: {dataset: {name: two_field, num_samples: 12, offset: 500}}
optimizer: {name: adam, lr: 0.05}
loss: {name: cross_entropy}
metrics: [accuracy]
trainer: {epochs: 2, log_every: 1, seed: 3, plot: false, progress: none, output_dir: )" + out + "}\n";
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

}  // namespace

TEST(Task, TwoInputsAndCarriedStateTrainAndEvaluateThroughYaml) {
  register_test_components();
  std::string out = tmpdir("train");
  Trainer t(config::parse(yaml(out), "run.yaml"), quiet());
  auto& net = dynamic_cast<TwoInputMemoryNet&>(t.model());
  auto r = t.fit();
  EXPECT_EQ(r.steps, 16);
  // Every batch but the first of each epoch (and of each evaluation) saw the carried memory.
  EXPECT_GT(net.forwards_with_memory, 0);
  EXPECT_LT(net.forwards_with_memory, net.forwards);
  const auto& losses = t.step_losses();
  double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[13] + losses[14] + losses[15]) / 3;
  EXPECT_LT(last, first) << "the two-input model did not learn";
  EXPECT_TRUE(r.final_metrics.count("val/accuracy"));
  EXPECT_TRUE(r.final_metrics.count("val/loss"));
  // The carried state is part of the checkpoint.
  auto ck = load_checkpoint(r.last_checkpoint);
  ASSERT_TRUE(ck.state.count("memory"));
  EXPECT_EQ(ck.state.at("memory").shape(), (Shape{8}));
}

TEST(Task, ResumeMidEpochWithCarriedStateIsBitIdentical) {
  register_test_components();
  for (std::string workers : {"0", "2"}) {
    std::string full_dir = tmpdir("full" + workers), part_dir = tmpdir("part" + workers);
    Trainer full(config::parse(yaml(full_dir, workers), "run.yaml"), quiet());
    full.fit();
    std::vector<double> ref = full.step_losses();

    // Stop after step 5 (mid-epoch: 8 batches per epoch), then resume from last.h5.
    std::vector<double> got;
    {
      Trainer a(config::parse(yaml(part_dir, workers), "run.yaml"), quiet());
      a.on_step_end = [](Trainer& tr, int64_t step, const StepResult&) {
        if (step == 5) tr.request_stop();
      };
      auto r = a.fit();
      ASSERT_TRUE(r.interrupted);
      got = a.step_losses();
    }
    TrainerOptions o = quiet();
    o.resume = part_dir + "/checkpoints/last.h5";
    Trainer b(config::parse(yaml(part_dir, workers), "run.yaml"), o);
    auto& net = dynamic_cast<TwoInputMemoryNet&>(b.model());
    b.fit();
    EXPECT_EQ(net.forwards_with_memory, net.forwards - 3)
        << "the resumed run's first batch must see the checkpointed memory (only epoch 2's first batch and the "
           "two evaluations' first batches start empty)";
    for (double l : b.step_losses()) got.push_back(l);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "step " << i + 1 << " workers " << workers;
    auto sa = full.model().state_dict(), sb = b.model().state_dict();
    for (const auto& [k, v] : sa)
      for (int64_t i = 0; i < v.numel(); ++i) ASSERT_EQ(get_value(v, i), get_value(sb.at(k), i)) << k;
  }
}

// A strategy whose evaluation differs from training (as a model that learns at test time needs):
// Trainer::evaluate must go through it.
TEST(Task, EvaluationGoesThroughTheStrategy) {
  register_test_components();
  struct CountingEval : DefaultStrategy {
    int64_t* calls;
    explicit CountingEval(int64_t* c) : calls(c) {}
    std::string name() const override { return "counting_eval"; }
    TaskOutput eval_step(TrainContext& ctx, const data::Batch& b) override {
      ++*calls;
      return DefaultStrategy::eval_step(ctx, b);
    }
  };
  static int64_t calls = 0;
  registry().strategies.add_plain("counting_eval", [] { return std::unique_ptr<Strategy>(std::make_unique<CountingEval>(&calls)); },
                                  "counts evaluation batches");
  std::string out = tmpdir("eval");
  std::string y = yaml(out) + "";
  y.replace(y.find("trainer: {"), 10, "trainer: {strategy: {name: counting_eval}, ");
  Trainer t(config::parse(y, "run.yaml"), quiet());
  calls = 0;
  auto m = t.evaluate("val");
  EXPECT_EQ(calls, 3);  // 12 examples in batches of 4
  EXPECT_TRUE(m.count("accuracy"));
}

TEST(Task, OptionsAreCheckedWithFileAndLine) {
  register_test_components();
  std::string out = tmpdir("errors");
  auto error_of = [&](const std::string& from, const std::string& to) {
    std::string y = yaml(out);
    y.replace(y.find(from), from.size(), to);
    try {
      Trainer t(config::parse(y, "run.yaml"), quiet());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = error_of("carry_state: true", "carry_stat: true");
  EXPECT_NE(e.find("run.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'carry_state'"), std::string::npos) << e;
  e = error_of("inputs: [a, b]", "inputs: []");
  EXPECT_NE(e.find("task.inputs"), std::string::npos) << e;
  EXPECT_NE(e.find("non-empty list"), std::string::npos) << e;
  e = error_of("name: supervised", "name: supervize");
  EXPECT_NE(e.find("did you mean 'supervised'"), std::string::npos) << e;
  // A model output the task does not find is named with the outputs there are.
  std::string y = yaml(out);
  y.replace(y.find("output: logits"), 14, "output: scores");
  Trainer bad(config::parse(y, "run.yaml"), quiet());
  try {
    bad.evaluate("val");
    ADD_FAILURE() << "expected an error for a missing model output";
  } catch (const std::invalid_argument& ex) {
    EXPECT_NE(std::string(ex.what()).find("no tensor 'scores'"), std::string::npos) << ex.what();
    EXPECT_NE(std::string(ex.what()).find("logits"), std::string::npos) << ex.what();
  }
}
