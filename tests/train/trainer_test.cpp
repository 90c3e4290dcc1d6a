// End-to-end training on a small real subset of Fashion-MNIST (Debian's dataset-fashion-mnist).

#include "lossdoctor/train/trainer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/interrupt.hpp"

namespace lossdoctor::train {
namespace {

namespace fs = std::filesystem;

const char* kSmallSpec = R"(
name: small
seed: 7
data:
  format: idx
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 1600}
  val: {limit: 500}
  transforms:
    train: [{random_flip: horizontal}, {scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
model:
  init: {weight: he_normal, bias: zeros}
  layers:
    - conv2d: {filters: 8, kernel: 3, padding: same}
    - batchnorm: {}
    - relu: {}
    - maxpool: {size: 2}
    - flatten: {}
    - dropout: {rate: 0.2}
    - dense: {units: 10}
loss: {type: cross_entropy}
optimizer: {type: adam, lr: 0.003}
batch_size: 32
epochs: 2
)";

spec::Spec small_spec(const std::vector<std::string>& overrides = {}) {
  return spec::parse_spec_text(kSmallSpec, "small.yaml", overrides);
}

TrainOptions quiet(const std::string& run_dir = "") {
  TrainOptions o;
  o.progress = Progress::Quiet;
  o.run_dir = run_dir;
  return o;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("lossdoctor_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::vector<torch::Tensor> state_of(Trainer& t) {
  std::vector<torch::Tensor> out;
  for (const auto& p : t.network()->parameters()) out.push_back(p.detach().clone());
  for (const auto& b : t.network()->buffers()) out.push_back(b.detach().clone());
  return out;
}

TEST(Trainer, LearnsFashionMnistSubsetWellAboveChance) {
  Trainer trainer(small_spec(), quiet());
  const auto [loss0, acc0] = trainer.evaluate();
  const TrainResult result = trainer.run();
  EXPECT_EQ(result.status, RunStatus::Completed);
  EXPECT_EQ(result.steps, 100);  // 1600 / 32 × 2 epochs
  ASSERT_EQ(trainer.epochs().size(), 2u);
  const auto& last = trainer.epochs().back();
  EXPECT_LT(last.val_loss, 0.75 * loss0);
  EXPECT_GT(last.val_accuracy, 0.65);  // chance is 0.10
  // The training loss falls: the last 20 steps average well below the first 5.
  const auto& steps = trainer.steps();
  double first = 0, late = 0;
  for (int i = 0; i < 5; ++i) first += steps[i].loss / 5;
  for (size_t i = steps.size() - 20; i < steps.size(); ++i) late += steps[i].loss / 20;
  EXPECT_LT(late, 0.5 * first);
}

TEST(Trainer, SameSeedSameRun) {
  Trainer a(small_spec({"max_steps=15"}), quiet());
  Trainer b(small_spec({"max_steps=15"}), quiet());
  a.run();
  b.run();
  ASSERT_EQ(a.steps().size(), b.steps().size());
  for (size_t i = 0; i < a.steps().size(); ++i) EXPECT_EQ(a.steps()[i].loss, b.steps()[i].loss);
}

TEST(Trainer, ResumeAfterInterruptEqualsUninterruptedRun) {
  const fs::path dir_full = fresh_dir("full"), dir_cut = fresh_dir("cut");
  Trainer full(small_spec(), quiet(dir_full.string()));
  full.run();

  // Interrupt in the middle of the second epoch, as Ctrl-C would.
  struct InterruptAt : TrainObserver {
    void after_step(Trainer&, const StepView& v) override {
      if (v.step == 72) set_interrupt_requested(true);
    }
  } interrupter;
  {
    Trainer cut(small_spec(), quiet(dir_cut.string()));
    cut.add_observer(&interrupter);
    const TrainResult r = cut.run();
    set_interrupt_requested(false);
    EXPECT_EQ(r.status, RunStatus::Interrupted);
    EXPECT_EQ(r.steps, 73);
    EXPECT_TRUE(fs::exists(dir_cut / "checkpoint.pt"));
  }
  TrainOptions resume = quiet(dir_cut.string());
  resume.resume = true;
  Trainer resumed(small_spec(), resume);
  const TrainResult r = resumed.run();
  EXPECT_EQ(r.status, RunStatus::Completed);
  EXPECT_EQ(r.steps, 100);

  const auto a = state_of(full), b = state_of(resumed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  ASSERT_EQ(full.steps().size(), resumed.steps().size());
  for (size_t i = 0; i < full.steps().size(); ++i) {
    EXPECT_EQ(full.steps()[i].loss, resumed.steps()[i].loss) << "step " << i;
  }
  ASSERT_EQ(resumed.epochs().size(), 2u);
  EXPECT_DOUBLE_EQ(full.epochs()[1].train_loss, resumed.epochs()[1].train_loss);
  EXPECT_DOUBLE_EQ(full.epochs()[1].val_accuracy, resumed.epochs()[1].val_accuracy);

  // The metric files cover every step exactly once.
  std::ifstream csv(dir_cut / "steps.csv");
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 101);  // header + 100 steps
  const auto summary = nlohmann::json::parse(std::ifstream(dir_cut / "summary.json"));
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 100);
  fs::remove_all(dir_full);
  fs::remove_all(dir_cut);
}

TEST(Trainer, RunDirectoryHoldsSpecMetricsAndNoTemporaryFiles) {
  const fs::path dir = fresh_dir("files");
  Trainer trainer(small_spec({"max_steps=10"}), quiet(dir.string()));
  trainer.run();
  for (const char* name : {"spec.yaml", "steps.csv", "steps.jsonl", "epochs.csv", "epochs.jsonl",
                           "checkpoint.pt", "summary.json"}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  std::ifstream jsonl(dir / "steps.jsonl");
  std::string first;
  std::getline(jsonl, first);
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["step"], 0);
  EXPECT_GT(j["loss"].get<double>(), 1.0);
  EXPECT_GT(j["grad_norm"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(j["lr"].get<double>(), 0.003);
  fs::remove_all(dir);
}

TEST(Trainer, NonFiniteLossStopsTheRun) {
  // Half the training images are NaN: the first batch's loss is NaN.
  Trainer trainer(small_spec({"data.inject.corrupt={fraction: 0.5, kind: nan}"}), quiet());
  const TrainResult r = trainer.run();
  EXPECT_EQ(r.status, RunStatus::NonFiniteLoss);
  EXPECT_LT(r.steps, 100);
  EXPECT_FALSE(std::isfinite(trainer.steps().back().loss));
}

TEST(Trainer, OutputUnitsMustMatchClasses) {
  try {
    Trainer trainer(small_spec({"model.layers[6].dense.units=5"}), quiet());
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers[6].dense"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("10 classes"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ResumeWithoutCheckpointIsAnInputError) {
  const fs::path dir = fresh_dir("nockpt");
  TrainOptions o = quiet(dir.string());
  o.resume = true;
  EXPECT_THROW(Trainer(small_spec(), o), InputError);
  fs::remove_all(dir);
}

TEST(Trainer, StepSchedulePerStepChangesTheRate) {
  Trainer trainer(
      small_spec({"max_steps=6", "schedule={type: step, step_size: 2, gamma: 0.5, per: step}"}),
      quiet());
  trainer.run();
  const auto& s = trainer.steps();
  ASSERT_EQ(s.size(), 6u);
  EXPECT_DOUBLE_EQ(s[0].lr, 0.003);
  EXPECT_DOUBLE_EQ(s[2].lr, 0.0015);
  EXPECT_DOUBLE_EQ(s[5].lr, 0.00075);
}

TEST(Trainer, ACapOnStepsKeepsTheSchedulePlannedOverTheSpec) {
  // A diagnosis budget is the first steps of exactly the user's run: a cosine planned over 2
  // epochs (100 steps) must not be squeezed into a 20-step cap.
  const auto spec = small_spec({"schedule={type: cosine}"});
  TrainOptions capped = quiet();
  capped.max_steps = 20;
  Trainer short_run(spec, capped);
  EXPECT_EQ(short_run.total_steps(), 20);
  EXPECT_EQ(short_run.planned_steps(), 100);
  short_run.run();
  TrainOptions longer = quiet();
  longer.max_steps = 40;
  Trainer long_run(spec, longer);
  long_run.run();
  ASSERT_EQ(short_run.steps().size(), 20u);
  for (size_t k = 0; k < 20; ++k) EXPECT_DOUBLE_EQ(short_run.steps()[k].lr, long_run.steps()[k].lr);
  // Step 19 of a 100-step cosine is still near the top (cos(0.19π) → 0.915 × lr), not near zero.
  EXPECT_NEAR(short_run.steps()[19].lr / 0.003, 0.5 * (1 + std::cos(M_PI * 19 / 100.0)), 1e-9);
  // The schedule the trainer exposes (the settle watcher foresees rates with it) is the one
  // it follows: its rate past the cap is the planned one.
  for (int64_t k : {0, 19})
    EXPECT_DOUBLE_EQ(short_run.schedule().lr(k, 0), short_run.steps()[static_cast<size_t>(k)].lr);
  EXPECT_NEAR(short_run.schedule().lr(60, 1) / 0.003, 0.5 * (1 + std::cos(M_PI * 60 / 100.0)),
              1e-9);
}

TEST(Trainer, ARunOnACutSplitCanBePlannedLikeTheWholeSplit) {
  // A confirmation arm that drops training images stands in for the user's run: planned over
  // the whole split (1600 images: 2 epochs of 50 batches) it runs as long as that run and
  // follows its schedule step for step; planned over its own 600 images it would stop at 38.
  const auto whole = small_spec({"schedule={type: cosine}"});
  const auto cut = small_spec({"schedule={type: cosine}", "data.train.limit=600"});
  EXPECT_EQ(Trainer(cut, quiet()).planned_steps(), 38);
  TrainOptions stand_in = quiet();
  stand_in.plan_train_size = 1600;
  stand_in.max_steps = 60;
  Trainer arm(cut, stand_in);
  EXPECT_EQ(arm.planned_steps(), 100);
  EXPECT_EQ(arm.total_steps(), 60);
  arm.run();
  TrainOptions capped = quiet();
  capped.max_steps = 60;
  Trainer user(whole, capped);
  user.run();
  ASSERT_EQ(arm.steps().size(), 60u);
  ASSERT_EQ(user.steps().size(), 60u);
  for (size_t k = 0; k < 60; ++k) EXPECT_DOUBLE_EQ(arm.steps()[k].lr, user.steps()[k].lr);
}

TEST(Trainer, GradientClippingBoundsTheUpdate) {
  // With clipping at 1e-6 and plain SGD, one step moves the weights by at most lr × 1e-6.
  Trainer trainer(
      small_spec({"max_steps=1", "optimizer={type: sgd, lr: 0.1}", "clip_grad_norm=1e-6"}),
      quiet());
  const auto before = state_of(trainer);
  trainer.run();
  const auto after = state_of(trainer);
  double moved = 0;
  const auto params = trainer.network()->parameters().size();
  for (size_t i = 0; i < params; ++i) moved += (after[i] - before[i]).pow(2).sum().item<double>();
  EXPECT_LE(std::sqrt(moved), 0.1 * 1e-6 * 1.001);
  EXPECT_GT(std::sqrt(moved), 0.0);
  EXPECT_GT(trainer.steps()[0].grad_norm, 1e-3);  // recorded before clipping
}

}  // namespace
}  // namespace lossdoctor::train
