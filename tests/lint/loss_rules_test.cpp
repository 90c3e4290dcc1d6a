// Rules on the output head and the loss: one fire / fix / near-miss set per rule.

#include <gtest/gtest.h>

#include "lint_test_util.hpp"

namespace lossdoctor::lint {
namespace {

using namespace testing;

const char* kHead =
    "    - conv2d: {filters: 32, kernel: 3, padding: same}\n"
    "    - batchnorm: {}\n"
    "    - relu: {}\n"
    "    - maxpool: {size: 2}\n"
    "    - flatten: {}\n"
    "    - dense: {units: 10}\n";

TEST(SoftmaxIntoLogitsLoss, FiresAndFixSilences) {
  SpecText t;
  t.layers = std::string(kHead) + "    - softmax: {}\n";
  Finding f =
      expect_fires_and_fix_silences("softmax-into-logits-loss", t.yaml(), "loss_output_mismatch",
                                    "error", {"model.layers[6].softmax", "test.yaml:"});
  EXPECT_EQ(f.fix.at("loss.from_logits"), "false");
  EXPECT_NE(f.explanation.find("delete the softmax"), std::string::npos);
}

TEST(SoftmaxIntoLogitsLoss, LogSoftmaxIsANoteNotAFinding) {
  SpecText t;
  t.layers = std::string(kHead) + "    - log_softmax: {}\n";
  LintResult r = run("softmax-into-logits-loss", t.yaml());
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("harmless"), std::string::npos);
  EXPECT_TRUE(lint_spec(parse(t.yaml())).findings.empty());
}

TEST(SoftmaxIntoLogitsLoss, NearMissRawLogits) {
  expect_silent("softmax-into-logits-loss", SpecText{}.yaml());
}

TEST(ProbabilityLossOnScores, FiresOnRawScoresAndFixSilences) {
  SpecText t;
  t.loss = "{type: cross_entropy, from_logits: false}";
  Finding f =
      expect_fires_and_fix_silences("probability-loss-on-scores", t.yaml(), "loss_output_mismatch",
                                    "error", {"raw scores", "dense"});
  EXPECT_EQ(f.fix.at("loss.from_logits"), "true");
}

TEST(ProbabilityLossOnScores, NearMissSoftmaxWithProbabilities) {
  SpecText t;
  t.layers = std::string(kHead) + "    - softmax: {}\n";
  t.loss = "{type: cross_entropy, from_logits: false}";
  expect_silent("probability-loss-on-scores", t.yaml());
  EXPECT_TRUE(lint_spec(parse(t.yaml())).findings.empty());
}

TEST(NllWithoutLogSoftmax, RawLogitsFireAndFixSilences) {
  SpecText t;
  t.loss = "{type: nll}";
  Finding f = expect_fires_and_fix_silences("nll-without-log-softmax", t.yaml(),
                                            "loss_output_mismatch", "error", {"raw scores"});
  EXPECT_EQ(f.fix.at("loss.type"), "cross_entropy");
  EXPECT_EQ(f.fix.at("loss.from_logits"), "true");
  EXPECT_TRUE(lint_spec(parse(t.yaml(), overrides_of(f))).findings.empty());
}

TEST(NllWithoutLogSoftmax, AfterSoftmaxFiresAndFixSilencesEveryRule) {
  SpecText t;
  t.layers = std::string(kHead) + "    - softmax: {}\n";
  t.loss = "{type: nll}";
  Finding f = expect_fires_and_fix_silences("nll-without-log-softmax", t.yaml(),
                                            "loss_output_mismatch", "error", {"softmax"});
  EXPECT_EQ(f.fix.at("loss.from_logits"), "false");
  EXPECT_TRUE(lint_spec(parse(t.yaml(), overrides_of(f))).findings.empty());
}

TEST(NllWithoutLogSoftmax, NearMissLogSoftmax) {
  SpecText t;
  t.layers = std::string(kHead) + "    - log_softmax: {}\n";
  t.loss = "{type: nll}";
  expect_silent("nll-without-log-softmax", t.yaml());
}

TEST(RegressionLossOnClasses, MseOnTenClassesFiresAndFixSilences) {
  SpecText t;
  t.loss = "{type: mse}";
  Finding f =
      expect_fires_and_fix_silences("regression-loss-on-classes", t.yaml(), "loss_output_mismatch",
                                    "warning", {"mse", "10 classes"});
  EXPECT_EQ(f.fix.at("loss.type"), "cross_entropy");
}

TEST(RegressionLossOnClasses, BceFires) {
  SpecText t;
  t.loss = "{type: bce}";
  expect_fires_and_fix_silences("regression-loss-on-classes", t.yaml(), "loss_output_mismatch",
                                "warning", {"bce"});
}

TEST(RegressionLossOnClasses, NearMissBinary) {
  SpecText t;
  t.loss = "{type: bce}";
  LintContext ctx;
  ctx.num_classes = 2;
  expect_silent("regression-loss-on-classes", t.yaml(), ctx);
}

TEST(ActivationOnLogits, ReluIsAnErrorAndFixSilences) {
  SpecText t;
  t.layers = std::string(kHead) + "    - relu: {}\n";
  Finding f =
      expect_fires_and_fix_silences("activation-on-logits", t.yaml(), "loss_output_mismatch",
                                    "error", {"relu", "model.layers[6].relu", "test.yaml:"});
  EXPECT_EQ(f.fix.count("model.layers[6]"), 1u);
  EXPECT_TRUE(lint_spec(parse(t.yaml(), overrides_of(f))).findings.empty());
}

TEST(ActivationOnLogits, SigmoidIsAWarning) {
  SpecText t;
  t.layers = std::string(kHead) + "    - sigmoid: {}\n";
  expect_fires_and_fix_silences("activation-on-logits", t.yaml(), "loss_output_mismatch", "warning",
                                {"sigmoid"});
}

TEST(ActivationOnLogits, NearMissHiddenActivations) {
  expect_silent("activation-on-logits", SpecText{}.yaml());
}

}  // namespace
}  // namespace lossdoctor::lint
