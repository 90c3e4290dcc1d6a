// doctor::lint and doctor::diagnose on the shipped examples, with real Fashion-MNIST data
// (/usr/share/datasets/fashion-mnist). Budgets are small to keep this file under a minute.

#include "lossdoctor/doctor/doctor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "lossdoctor/data/image_io.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::doctor {
namespace {

const std::string kSource = LOSSDOCTOR_SOURCE_DIR;
const char* kData = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

spec::Spec example(const std::string& name, const std::vector<std::string>& overrides = {}) {
  return spec::parse_spec_file(kSource + "/examples/" + name, overrides);
}

/// The label agreement (two small models fitted per diagnosis, seconds each) is left out of the
/// tests about other causes; the healthy example and the agreement's own tests keep it on.
DiagnoseOptions quick(int64_t budget, bool label_agreement = false) {
  DiagnoseOptions o;
  o.budget_steps = budget;
  o.progress = train::Progress::Quiet;
  o.label_agreement = label_agreement;
  return o;
}

const Finding* find_cause(const report::Report& r, const std::string& cause) {
  for (const auto& f : r.findings) {
    if (f.cause == cause) return &f;
  }
  return nullptr;
}

std::string describe(const report::Report& r) {
  std::string out =
      "verdict " + r.verdict + ", " + std::to_string(r.steps_run) + " steps; findings:";
  for (const auto& f : r.findings) out += " " + f.cause + "(" + std::to_string(f.confidence) + ")";
  out += "; symptoms:";
  for (const auto& s : r.symptoms) out += " " + s.id;
  return out;
}

void expect_record_filled(const RunRecord& rec, int64_t steps_run) {
  EXPECT_EQ(static_cast<int64_t>(rec.steps.size()), steps_run);
  EXPECT_FALSE(rec.probes.empty());
  EXPECT_FALSE(rec.layers.empty());
  EXPECT_EQ(rec.num_classes, 10);
  EXPECT_GT(rec.train_size, 0);
  EXPECT_TRUE(rec.train_stats.has_value());
  ASSERT_TRUE(rec.noise_like_shares.has_value());  // the data set's, for corrupt_samples
  EXPECT_GE(rec.noise_like_shares->train, 0.0);
  for (const auto& p : rec.probes) EXPECT_EQ(p.layers.size(), rec.layers.size());
  EXPECT_TRUE(std::any_of(rec.layers.begin(), rec.layers.end(), [](const LayerDescription& l) {
    return l.has_weights && l.fan_in > 0 && !l.output_shape.empty();
  }));
  EXPECT_EQ(static_cast<int64_t>(rec.samples.size()), rec.train_size);
}

class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kData)) GTEST_SKIP() << "Fashion-MNIST not installed at " << kData;
  }
};

TEST(WeakSpecCauses, AreTheCausesLintRaisedAtItsInfoTierAlone) {
  const auto finding = [](const std::string& cause, const std::string& severity) {
    Finding f;
    f.cause = cause;
    f.severity = severity;
    return f;
  };
  // One dropout at 0.6 (info), a narrow convolution as both info and warning, a batch of one
  // (warning), and an info suspicion the data audit raised too.
  const std::vector<Finding> lint = {
      finding("excessive_regularization", "info"), finding("insufficient_capacity", "info"),
      finding("insufficient_capacity", "warning"), finding("batch_too_small", "warning"),
      finding("unnormalized_input", "info")};
  const std::vector<Finding> audit = {finding("unnormalized_input", "warning")};
  EXPECT_EQ(weak_spec_causes(lint, audit), std::vector<std::string>{"excessive_regularization"});
  // Near miss: the same dropout at 0.9 is lint's warning tier, no weak suspicion.
  EXPECT_TRUE(weak_spec_causes({finding("excessive_regularization", "warning")}, {}).empty());
}

TEST_F(Doctor, LintFindsTheSoftmaxIntoLogitsLoss) {
  const report::Report r = lint(example("seed-2-no-batchnorm-softmax-logits.yaml"));
  EXPECT_EQ(r.command, "lint");
  EXPECT_EQ(r.verdict, "unhealthy");
  EXPECT_EQ(r.steps_run, 0) << "lint takes no training step";
  const Finding* f = find_cause(r, "loss_output_mismatch");
  ASSERT_NE(f, nullptr) << describe(r);
  EXPECT_EQ(f->status, "suspected");
  EXPECT_FALSE(f->first_step.has_value());
  EXPECT_FALSE(f->evidence.empty());
  EXPECT_FALSE(f->fix.empty());
  EXPECT_TRUE(r.injected.empty());
}

TEST_F(Doctor, LintOnTheHealthyExampleIsHealthy) {
  const report::Report r = lint(example("fashion-mnist.yaml"));
  EXPECT_EQ(r.verdict, "healthy") << describe(r);
  for (const auto& f : r.findings) EXPECT_NE(f.severity, "error") << f.cause;
}

TEST_F(Doctor, AdamAtLr1OnBatch1IsLrTooHigh) {
  const spec::Spec s =
      example("seed-3-adam-lr1-batch1.yaml", {"data.train.limit=2000", "data.val.limit=500"});
  const DiagnoseOutcome out = diagnose(s, quick(150));
  const report::Report& r = out.report;
  EXPECT_EQ(r.command, "diagnose");
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().cause, "lr_too_high") << describe(r);
  EXPECT_NE(find_cause(r, "batch_too_small"), nullptr) << describe(r);
  const Finding& top = r.findings.front();
  EXPECT_FALSE(top.evidence.empty());
  ASSERT_TRUE(top.fix.count("optimizer.lr")) << describe(r);
  EXPECT_LT(std::stod(top.fix.at("optimizer.lr")), 1.0);
  EXPECT_GT(r.steps_run, 0);
  EXPECT_LE(r.steps_run, 150);
  EXPECT_FALSE(r.timeline.empty());
  expect_record_filled(out.record, r.steps_run);
  EXPECT_EQ(out.record.batch_size, 1);
  EXPECT_EQ(out.record.optimizer, "adam");
  EXPECT_DOUBLE_EQ(out.record.base_lr, 1.0);
}

TEST_F(Doctor, HealthyExampleIsHealthy) {
  const spec::Spec s =
      example("fashion-mnist.yaml", {"data.train.limit=4000", "data.val.limit=1000"});
  const DiagnoseOutcome out = diagnose(s, quick(200, true));
  const report::Report& r = out.report;
  EXPECT_EQ(r.verdict, "healthy") << describe(r);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().cause, "healthy") << describe(r);
  EXPECT_FALSE(r.findings.front().evidence.empty());
  expect_record_filled(out.record, r.steps_run);
  ASSERT_GE(out.record.steps.size(), 20u);
  // Sanity of the recorded numbers on a real run.
  const auto& first = out.record.steps.front();
  EXPECT_NEAR(first.loss, std::log(10.0), 1.0);
  EXPECT_GT(first.grad_norm, 0);
  EXPECT_GT(first.update_norm, 0);
  EXPECT_NEAR(first.input.mean, 0.0, 0.3) << "normalised inputs";
  EXPECT_EQ(first.odd_input_fraction, 0.0);
  int64_t labels = 0;
  for (int64_t c : first.label_histogram) labels += c;
  EXPECT_EQ(labels, 64);
  EXPECT_LT(out.record.steps.back().loss, first.loss);
  EXPECT_TRUE(r.injected.empty());
  // The example has dropout: probe steps also measure the batch in eval mode, others do not.
  for (const auto& st : out.record.steps) {
    if (st.step % s.diagnose.probe_every == 0) {
      EXPECT_GE(st.eval_batch_accuracy, 0.0) << "step " << st.step;
      EXPECT_LE(st.eval_batch_accuracy, 1.0) << "step " << st.step;
    } else {
      EXPECT_TRUE(std::isnan(st.eval_batch_accuracy)) << "step " << st.step;
    }
  }
}

TEST_F(Doctor, TheLabelAgreementIsInTheNotesUnlessSwitchedOff) {
  const spec::Spec s =
      example("fashion-mnist.yaml", {"data.train.limit=2000", "data.val.limit=500"});
  const auto note_of = [](const report::Report& r) {
    for (const auto& n : r.notes)
      if (n.rfind("label agreement: ", 0) == 0) return n;
    return std::string();
  };
  const std::string on = note_of(diagnose(s, quick(5, true)).report);
  EXPECT_EQ(on.rfind("label agreement: models fitted to", 0), 0u) << on;
  const DiagnoseOptions off = quick(5, false);
  const std::string skipped = note_of(diagnose(s, off).report);
  EXPECT_NE(skipped.find("not measured (--no-label-agreement)"), std::string::npos) << skipped;
}

TEST_F(Doctor, ALossAtChanceIsJudgedOverMostOfTheBudgetNotStoppedEarly) {
  // All-zero weights sit at ln 10: a fault, but a plateau at chance is also what a slow start
  // shows early on, so the run is not stopped at min_steps as soon as the plateau settles: it
  // waits like "healthy" does (a healthy shapes net that leaves chance after ~120 steps was
  // called unhealthy at step 125).
  const spec::Spec s =
      example("fashion-mnist.yaml", {"data.train.limit=2000", "data.val.limit=500", "epochs=20",
                                     "model.init={weight: zeros, bias: zeros}"});
  DiagnoseOptions o = quick(200);
  o.min_steps = 50;
  o.healthy_min_steps = 150;
  const DiagnoseOutcome out = diagnose(s, o);
  const report::Report& r = out.report;
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  EXPECT_GE(r.steps_run, 150) << describe(r);
  bool plateau = false;
  for (const auto& sy : r.symptoms) plateau |= sy.id == "plateau_at_chance";
  EXPECT_TRUE(plateau) << describe(r);
}

TEST_F(Doctor, InjectedNaNImagesAreCorruptSamples) {
  const spec::Spec s =
      example("fashion-mnist.yaml", {"data.train.limit=2000", "data.val.limit=500",
                                     "data.inject.corrupt={fraction: 0.05, kind: nan}"});
  const DiagnoseOutcome out = diagnose(s, quick(150));
  const report::Report& r = out.report;
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  const Finding* f = find_cause(r, "corrupt_samples");
  ASSERT_NE(f, nullptr) << describe(r);
  EXPECT_EQ(r.findings.front().cause, "corrupt_samples") << describe(r);
  EXPECT_FALSE(f->evidence.empty());
  ASSERT_TRUE(r.injected.count("corrupt"));
  const auto& corrupt = r.injected.at("corrupt");
  EXPECT_NEAR(static_cast<double>(corrupt.size()), 100.0, 1.0) << "5 % of 2000";
  EXPECT_TRUE(
      std::all_of(corrupt.begin(), corrupt.end(), [](int64_t i) { return i >= 0 && i < 2000; }));
  EXPECT_EQ(std::set<int64_t>(corrupt.begin(), corrupt.end()).size(), corrupt.size())
      << "no duplicates";
  ASSERT_TRUE(r.injected.count("label_noise"));
  EXPECT_TRUE(r.injected.at("label_noise").empty());
  ASSERT_TRUE(out.record.first_nonfinite.has_value());
  EXPECT_EQ(out.record.first_nonfinite->layer, "input");
  const Finding* lr = find_cause(r, "lr_too_high");
  EXPECT_TRUE(lr == nullptr || lr->confidence < f->confidence);
}

TEST_F(Doctor, NoiseImagesInTrainingOnlyAreEvidenceBeforeTheRunLearnsAnything) {
  // Five steps: the run cannot tell noise from content yet, the split comparison can.
  const spec::Spec s =
      example("fashion-mnist.yaml", {"data.train.limit=2000", "data.val.limit=500",
                                     "data.inject.corrupt={fraction: 0.1, kind: noise}"});
  const DiagnoseOutcome out = diagnose(s, quick(5));
  std::vector<Finding> all = out.report.findings;
  all.insert(all.end(), out.to_screen.begin(), out.to_screen.end());
  const auto it = std::find_if(all.begin(), all.end(),
                               [](const Finding& f) { return f.cause == "corrupt_samples"; });
  ASSERT_NE(it, all.end()) << describe(out.report);
  const bool from_split_comparison =
      std::any_of(it->evidence.begin(), it->evidence.end(), [](const std::string& e) {
        return e.find("10.0% of the training images look like pure noise") != std::string::npos;
      });
  EXPECT_TRUE(from_split_comparison) << describe(out.report);
  const auto& injected = out.report.injected.at("corrupt");
  EXPECT_EQ(std::set<int64_t>(it->samples.begin(), it->samples.end()),
            std::set<int64_t>(injected.begin(), injected.end()));
  // The shares go into the record, where the corrupt_samples rule bounds its count by them.
  ASSERT_TRUE(out.record.noise_like_shares.has_value());
  EXPECT_NEAR(out.record.noise_like_shares->train, 0.1, 0.02);
  EXPECT_NEAR(out.record.noise_like_shares->val, 0.0, 0.01);
}

TEST_F(Doctor, LintReportsInjectionToo) {
  const report::Report r = lint(example(
      "fashion-mnist.yaml", {"data.train.limit=1000", "data.inject.label_noise={fraction: 0.1}"}));
  ASSERT_TRUE(r.injected.count("label_noise"));
  EXPECT_NEAR(static_cast<double>(r.injected.at("label_noise").size()), 100.0, 1.0);
}

TEST_F(Doctor, LintRefusesAModelThatCannotBeBuiltLikeValidate) {
  // Shapes are checked against the data (1×28×28, 10 classes), not only the spec's text.
  EXPECT_THROW(lint(example("fashion-mnist.yaml", {"model.layers[12].dense.units=7"})), SpecError);
  EXPECT_THROW(lint(example("fashion-mnist.yaml", {"model.layers[3].maxpool.size=64"})), SpecError);
}

TEST(DoctorNotes, LintAndDiagnoseCountTheImagesSkipBadImagesDropped) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("ld-skip-" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(root / cls);
    for (int i = 0; i < 8; ++i) {
      data::save_image((root / cls / ("i" + std::to_string(i) + ".png")).string(),
                       at::full({1, 8, 8}, 40.0 * i + (cls[0] == 'a' ? 0 : 9)));
    }
  }
  std::ofstream(root / "b" / "cut.png") << "\x89PNG\r\n\x1a\n";  // the signature, no more
  const spec::Spec s =
      spec::parse_spec_text("data: {format: folder, path: " + root.string() +
                                ", split: 0.25, skip_bad_images: true}\n"
                                "model: {layers: [flatten, {dense: {units: 2}}]}\nbatch_size: 4\n",
                            (root / "s.yaml").string());
  const report::Report r = lint(s);
  const std::string want = "data.skip_bad_images skipped 1 truncated or undecodable image files";
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(),
                          [&](const std::string& n) { return n.rfind(want, 0) == 0; }));
  const report::Report d = diagnose(s, quick(5)).report;
  EXPECT_TRUE(std::any_of(d.notes.begin(), d.notes.end(),
                          [&](const std::string& n) { return n.rfind(want, 0) == 0; }));
  fs::remove_all(root);
}

TEST_F(Doctor, BadSpecThrowsBeforeTraining) {
  EXPECT_THROW(example("fashion-mnist.yaml", {"optimizer.lr=-1"}), InputError);
}

}  // namespace
}  // namespace lossdoctor::doctor
