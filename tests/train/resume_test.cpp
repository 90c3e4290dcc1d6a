// Resuming a run safely (issue 12, "never lose a run"): a checkpoint of another model or other
// settings is refused before anything loads, a damaged metrics tail is dropped, a NaN loss
// resumes, stale temporary files go, and checkpoints are a pure function of the run.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::train {
namespace {

namespace fs = std::filesystem;

// 256 images in batches of 32: 8 steps an epoch, 24 in all; a run takes a fraction of a second.
const char* kTinySpec = R"(
name: tiny
seed: 11
data:
  format: idx
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 256}
  val: {limit: 64}
  transforms:
    train: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dropout: {rate: 0.1}
    - dense: {units: 10}
loss: {type: cross_entropy}
optimizer: {type: adam, lr: 0.003}
batch_size: 32
epochs: 3
)";

spec::Spec tiny(const std::vector<std::string>& overrides = {}) {
  return spec::parse_spec_text(kTinySpec, "tiny.yaml", overrides);
}

TrainOptions in_dir(const fs::path& dir, bool resume = false) {
  TrainOptions o;
  o.progress = Progress::Quiet;
  o.run_dir = dir.string();
  o.resume = resume;
  return o;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("lossdoctor_resume_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

/// The tiny spec's data, decoded once for the runs that keep its data section.
const data::Dataset& tiny_data() {
  static const data::Dataset dataset = data::load_dataset(tiny().data, tiny().seed);
  return dataset;
}

/// A run of `steps` steps in `dir` (its final checkpoint is at step `steps`).
void run_steps(const fs::path& dir, int64_t steps, const std::vector<std::string>& overrides = {}) {
  TrainOptions o = in_dir(dir);
  o.max_steps = steps;
  bool same_data = true;
  for (const auto& s : overrides) same_data = same_data && s.rfind("data.", 0) != 0;
  if (same_data) o.dataset = &tiny_data();
  Trainer(tiny(overrides), o).run();
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const fs::path& file, const std::vector<std::string>& lines,
                 const std::string& tail = "") {
  std::ofstream out(file, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
  out << tail;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The message of the InputError that resuming `dir` with `spec` throws ("" when none).
std::string resume_error(const fs::path& dir, const spec::Spec& spec) {
  try {
    Trainer t(spec, in_dir(dir, /*resume=*/true));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

struct Warnings {
  std::vector<std::string> lines;
  data::WarningSink sink() {
    return [this](const std::string& w) { lines.push_back(w); };
  }
};

TEST(Resume, AnotherArchitectureIsRefusedNamingTheTensorAndBothShapes) {
  const fs::path dir = fresh_dir("arch");
  run_steps(dir, 5);
  const std::string ckpt = (dir / "checkpoint.pt").string();
  // A wider convolution: same tensor names, other shapes (torch's load would take them as is).
  std::string e = resume_error(dir, tiny({"model.layers[0].conv2d.filters=8"}));
  EXPECT_EQ(e.rfind(ckpt + ": cannot resume", 0), 0u) << e;
  EXPECT_NE(e.find("l0_conv2d.weight (model.layers[0].conv2d) is [4, 1, 3, 3] in the checkpoint "
                   "but [8, 1, 3, 3] in this spec's model"),
            std::string::npos)
      << e;
  // A dense layer instead of the dropout: a tensor the checkpoint lacks.
  e = resume_error(dir, tiny({"model.layers[3]={dense: {units: 10}}"}));
  EXPECT_NE(e.find("l3_dense.weight (model.layers[3].dense) [10, 2704] is missing from the "
                   "checkpoint"),
            std::string::npos)
      << e;
  // A checkpoint with one layer more than the spec: a tensor the spec's model lacks.
  const fs::path deeper = fresh_dir("arch_deeper");
  run_steps(deeper, 3,
            {"model.layers=[{conv2d: {filters: 4, kernel: 3}}, relu, flatten, {dropout: {rate: "
             "0.1}}, {dense: {units: 10}}, {dense: {units: 10}}]"});
  e = resume_error(deeper, tiny());
  EXPECT_NE(e.find("the checkpoint's l5_dense.weight [10, 10] has no counterpart in this spec's "
                   "model"),
            std::string::npos)
      << e;
  fs::remove_all(deeper);
  fs::remove_all(dir);
}

TEST(Resume, ChangedSettingsAreRefusedButALongerRunResumes) {
  const fs::path dir = fresh_dir("settings");
  run_steps(dir, 5);
  std::string e = resume_error(dir, tiny({"optimizer.lr=0.01"}));
  EXPECT_NE(e.find("this spec's optimizer.lr is 0.01 but the run was started with 0.003"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find((dir / "spec.yaml").string()), std::string::npos) << e;
  // A change without parameters: only the fingerprint sees it.
  e = resume_error(dir, tiny({"model.layers[1]=tanh"}));
  EXPECT_NE(e.find("model.layers[1] is tanh but the run was started with relu"), std::string::npos)
      << e;
  e = resume_error(dir, tiny({"data.train.limit=224"}));
  EXPECT_NE(e.find("data.train is 224 × [1, 28, 28]"), std::string::npos) << e;
  e = resume_error(dir, tiny({"seed=12"}));
  EXPECT_NE(e.find("seed is 12"), std::string::npos) << e;
  // Injected data-parallel faults change the run even where one process ignores them.
  e = resume_error(dir, tiny({"data.inject.distributed.no_reshuffle=true"}));
  EXPECT_NE(e.find("data.inject.distributed is {same_data_on_every_rank: false, no_reshuffle: "
                   "true"),
            std::string::npos)
      << e;

  // The run's length, name and device are not part of what it is.
  Trainer longer(tiny({"epochs=4", "name=renamed", "device=cpu"}), in_dir(dir, true));
  const TrainResult r = longer.run();
  EXPECT_EQ(r.status, RunStatus::Completed);
  EXPECT_EQ(r.steps, 32);
  EXPECT_EQ(longer.steps().size(), 32u);
  fs::remove_all(dir);
}

TEST(Resume, CheckpointsOfTheSameRunAreByteIdentical) {
  // torch keys optimiser state by parameter address, in hash-map order; the trainer rewrites
  // it by parameter index, so a second run (other addresses) writes the same bytes.
  for (const char* optimizer : {"{type: adam, lr: 0.003}", "{type: sgd, lr: 0.05, momentum: 0.9}",
                                "{type: rmsprop, lr: 0.001}", "{type: adadelta, lr: 1.0}"}) {
    const fs::path a = fresh_dir("bytes_a"), b = fresh_dir("bytes_b"), c = fresh_dir("bytes_c");
    const std::string opt = std::string("optimizer=") + optimizer;
    run_steps(a, 12, {opt});
    run_steps(b, 12, {opt});
    EXPECT_EQ(read_bytes(a / "checkpoint.pt"), read_bytes(b / "checkpoint.pt")) << optimizer;
    // Resumed from the canonical form, the run ends on the same bytes too.
    run_steps(c, 5, {opt});
    TrainOptions o = in_dir(c, true);
    o.max_steps = 12;
    o.dataset = &tiny_data();
    Trainer(tiny({opt}), o).run();
    EXPECT_EQ(read_bytes(a / "checkpoint.pt"), read_bytes(c / "checkpoint.pt")) << optimizer;
    for (const auto& d : {a, b, c}) fs::remove_all(d);
  }
}

TEST(Resume, ADamagedTailOfTheMetricsIsDroppedWithOneWarning) {
  const fs::path full = fresh_dir("tail_full"), dir = fresh_dir("tail");
  Trainer(tiny(), in_dir(full)).run();
  run_steps(dir, 12);  // checkpoint at step 12, epoch 1 done
  auto steps = lines_of(dir / "steps.jsonl");
  ASSERT_EQ(steps.size(), 12u);
  // A kill after the metrics of a later checkpoint were written: two records past the
  // checkpoint, then half a record.
  steps.push_back(R"({"epoch":1,"grad_norm":0.3,"loss":2.1,"lr":0.003,"seconds":0.1,"step":12})");
  steps.push_back(R"({"epoch":1,"grad_norm":0.3,"loss":2.1,"lr":0.003,"seconds":0.1,"step":13})");
  write_lines(dir / "steps.jsonl", steps, R"({"epoch":1,"grad_no)");
  auto epochs = lines_of(dir / "epochs.jsonl");
  ASSERT_EQ(epochs.size(), 2u);  // epoch 0, and the partial epoch 1 written at the run's end
  write_lines(dir / "epochs.jsonl", {epochs[0]}, "{\"epoch\":1,");

  Warnings warnings;
  Trainer resumed(tiny(), in_dir(dir, true), warnings.sink());
  ASSERT_EQ(warnings.lines.size(), 2u);
  EXPECT_EQ(warnings.lines[0],
            (dir / "steps.jsonl").string() +
                ":15: damaged record (a write cut short); the metric files are truncated back to "
                "the checkpoint's step 12");
  EXPECT_NE(warnings.lines[1].find("epochs.jsonl:2: damaged record"), std::string::npos);
  // Truncated on disk at once, before any training.
  EXPECT_EQ(lines_of(dir / "steps.jsonl").size(), 12u);
  EXPECT_EQ(lines_of(dir / "steps.csv").size(), 13u);
  EXPECT_EQ(lines_of(dir / "epochs.jsonl").size(), 1u);
  resumed.run();
  const auto a = lines_of(full / "steps.csv"), b = lines_of(dir / "steps.csv");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].substr(0, a[i].rfind(',')), b[i].substr(0, b[i].rfind(','))) << i;
  }
  fs::remove_all(full);
  fs::remove_all(dir);
}

TEST(Resume, ALostTailBeforeTheCheckpointIsCountedInTheWarning) {
  const fs::path dir = fresh_dir("lost");
  run_steps(dir, 10);
  auto steps = lines_of(dir / "steps.jsonl");
  steps.resize(7);
  write_lines(dir / "steps.jsonl", steps, "{\"ep");
  Warnings warnings;
  Trainer resumed(tiny(), in_dir(dir, true), warnings.sink());
  ASSERT_EQ(warnings.lines.size(), 1u);
  EXPECT_NE(warnings.lines[0].find("steps.jsonl:8: damaged record"), std::string::npos);
  EXPECT_NE(warnings.lines[0].find("(3 of the 10 records before it are lost)"), std::string::npos)
      << warnings.lines[0];
  EXPECT_EQ(resumed.steps().size(), 7u);
  fs::remove_all(dir);
}

TEST(Resume, ADamagedLineInTheMiddleIsAnInputErrorNamingFileAndLine) {
  const fs::path dir = fresh_dir("middle");
  run_steps(dir, 10);
  auto steps = lines_of(dir / "steps.jsonl");
  steps[2] = steps[2].substr(0, 20);
  write_lines(dir / "steps.jsonl", steps);
  const std::string e = resume_error(dir, tiny());
  EXPECT_EQ(e.rfind((dir / "steps.jsonl").string() + ":3: damaged record", 0), 0u) << e;
  // The files are left as they were for the user to look at.
  EXPECT_EQ(lines_of(dir / "steps.jsonl")[2], steps[2]);
  fs::remove_all(dir);
}

TEST(Resume, ARunThatEndedOnANanLossResumes) {
  const fs::path dir = fresh_dir("nan");
  const auto spec = tiny({"data.inject.corrupt={fraction: 0.5, kind: nan}"});
  {
    Trainer t(spec, in_dir(dir));
    EXPECT_EQ(t.run().status, RunStatus::NonFiniteLoss);
  }
  EXPECT_NE(read_bytes(dir / "steps.jsonl").find("\"loss\":null"), std::string::npos);
  Trainer resumed(spec, in_dir(dir, true));
  ASSERT_FALSE(resumed.steps().empty());
  EXPECT_TRUE(std::isnan(resumed.steps().back().loss));
  EXPECT_EQ(resumed.run().status, RunStatus::NonFiniteLoss);  // the weights are NaN by now
  fs::remove_all(dir);
}

TEST(Resume, NullFiguresOfAnEpochReadAsNan) {
  const fs::path dir = fresh_dir("null_epoch");
  run_steps(dir, 10);
  auto epochs = lines_of(dir / "epochs.jsonl");
  ASSERT_GE(epochs.size(), 1u);
  auto j = nlohmann::json::parse(epochs[0]);
  j["val_loss"] = nullptr;
  j["train_loss"] = nullptr;
  epochs[0] = j.dump();
  write_lines(dir / "epochs.jsonl", epochs);
  Trainer resumed(tiny(), in_dir(dir, true));
  ASSERT_EQ(resumed.epochs().size(), 1u);
  EXPECT_TRUE(std::isnan(resumed.epochs()[0].val_loss));
  EXPECT_TRUE(std::isnan(resumed.epochs()[0].train_loss));
  EXPECT_GT(resumed.epochs()[0].val_accuracy, 0.0);
  fs::remove_all(dir);
}

/// A PID that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(Resume, StaleTemporaryFilesOfDeadWritersAreRemoved) {
  const fs::path dir = fresh_dir("stale");
  fs::create_directories(dir);
  const std::string dead = std::to_string(dead_pid());
  const std::string live = "1";  // init: alive, and not this process (whose own names it writes)
  for (const std::string name :
       {"checkpoint.pt.tmp." + dead, "steps.jsonl.tmp." + dead, "steps.csv.tmp." + live,
        std::string("notes.tmp.txt"), std::string("x.tmp.12ab"), std::string("y.tmp.0123"),
        std::string("keep.txt")}) {
    std::ofstream(dir / name) << "partial";
  }
  EXPECT_EQ(remove_stale_temp_files(dir.string()),
            (std::vector<std::string>{"checkpoint.pt.tmp." + dead, "steps.jsonl.tmp." + dead}));
  for (const std::string name :
       {"steps.csv.tmp." + live, std::string("notes.tmp.txt"), std::string("x.tmp.12ab"),
        std::string("y.tmp.0123"), std::string("keep.txt")}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  EXPECT_TRUE(remove_stale_temp_files((dir / "absent").string()).empty());
  EXPECT_EQ(temp_path_for("a/b.pt"), "a/b.pt.tmp." + std::to_string(::getpid()));

  // A new run into the directory, and a resume, clear them too and say so.
  std::ofstream(dir / ("summary.json.tmp." + dead)) << "{";
  Warnings warnings;
  {
    TrainOptions o = in_dir(dir);
    o.max_steps = 3;
    Trainer(tiny(), o, warnings.sink()).run();
  }
  EXPECT_FALSE(fs::exists(dir / ("summary.json.tmp." + dead)));
  ASSERT_EQ(warnings.lines.size(), 1u);
  EXPECT_NE(warnings.lines[0].find(
                "removed 1 temporary file(s) left by a killed run (summary.json.tmp." + dead),
            std::string::npos)
      << warnings.lines[0];
  std::ofstream(dir / ("checkpoint.pt.tmp." + dead)) << "PK";
  Trainer resumed(tiny(), in_dir(dir, true));
  EXPECT_FALSE(fs::exists(dir / ("checkpoint.pt.tmp." + dead)));
  EXPECT_TRUE(fs::exists(dir / ("steps.csv.tmp." + live)));  // its writer is alive
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lossdoctor::train
