// The project's example specs: the healthy one lints clean, the article's three examples are
// caught by the rules that match them.

#include <gtest/gtest.h>

#include <algorithm>

#include "lint_test_util.hpp"

namespace lossdoctor::lint {
namespace {

LintResult lint_example(const std::string& name) {
  return lint_spec(spec::parse_spec_file(std::string(LOSSDOCTOR_SOURCE_DIR) + "/examples/" + name));
}

TEST(LintExamples, HealthyFashionMnistHasNoFindings) {
  LintResult r = lint_example("fashion-mnist.yaml");
  for (const auto& f : r.findings) ADD_FAILURE() << f.cause << ": " << testing::evidence_text(f);
  EXPECT_TRUE(r.findings.empty());
}

TEST(LintExamples, Seed2SoftmaxIntoLogitsLossIsAnError) {
  LintResult r = lint_example("seed-2-no-batchnorm-softmax-logits.yaml");
  const Finding* f = testing::find(r, "loss_output_mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, "error");
  EXPECT_EQ(r.findings.front().severity, "error");
}

TEST(LintExamples, Seed3AdamLr1Batch1) {
  LintResult r = lint_example("seed-3-adam-lr1-batch1.yaml");
  const Finding* lr = testing::find(r, "lr_too_high");
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->severity, "error");
  EXPECT_EQ(lr->fix.at("optimizer.lr"), "0.001");
  const Finding* batch = testing::find(r, "batch_too_small");
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->severity, "error");
}

TEST(LintExamples, Seed1UnshuffledAndMismatchedVal) {
  LintResult r = lint_example("seed-1-unshuffled-mismatched-val.yaml");
  const Finding* order = testing::find(r, "unshuffled_data");
  ASSERT_NE(order, nullptr);
  EXPECT_EQ(order->severity, "error");
  const Finding* prep = testing::find(r, "preprocessing_mismatch");
  ASSERT_NE(prep, nullptr);
  EXPECT_EQ(prep->severity, "error");
}

TEST(LintExamples, FindingsAreSortedErrorsFirstThenByConfidence) {
  for (const char* name :
       {"seed-1-unshuffled-mismatched-val.yaml", "seed-2-no-batchnorm-softmax-logits.yaml",
        "seed-3-adam-lr1-batch1.yaml"}) {
    LintResult r = lint_example(name);
    for (size_t i = 1; i < r.findings.size(); ++i) {
      const auto& a = r.findings[i - 1];
      const auto& b = r.findings[i];
      if (a.severity == b.severity)
        EXPECT_GE(a.confidence, b.confidence) << name;
      else
        EXPECT_EQ(a.severity, "error") << name;
    }
  }
}

TEST(LintRules, EveryRuleHasAKebabIdAndAKnownCause) {
  const auto& causes = cause_ids();
  std::vector<std::string> ids;
  for (const auto& rule : lint_rules()) {
    EXPECT_NE(std::find(causes.begin(), causes.end(), rule.cause), causes.end()) << rule.id;
    EXPECT_EQ(rule.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz-"), std::string::npos);
    EXPECT_EQ(std::find(ids.begin(), ids.end(), rule.id), ids.end()) << "duplicate " << rule.id;
    ids.push_back(rule.id);
  }
}

}  // namespace
}  // namespace lossdoctor::lint
