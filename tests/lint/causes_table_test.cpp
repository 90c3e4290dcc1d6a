// The causes table (report/causes.hpp) against everything that must agree with it: the cause ids
// of design.md, the lint rules, the docs (one section per cause), and the spec parser (every
// default fix is a valid override). Adding a cause without its row, explanation, fix or doc
// section fails here.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/report/causes.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::report {
namespace {

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(LOSSDOCTOR_SOURCE_DIR) + "/docs/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(CausesTable, IsDesignsListOfCauseIdsInItsOrder) {
  const std::vector<std::string> design = {"label_noise",
                                           "corrupt_samples",
                                           "preprocessing_mismatch",
                                           "unnormalized_input",
                                           "unshuffled_data",
                                           "class_imbalance",
                                           "bad_init_scale",
                                           "missing_normalization",
                                           "saturating_activation",
                                           "insufficient_capacity",
                                           "loss_output_mismatch",
                                           "lr_too_high",
                                           "lr_too_low",
                                           "batch_too_small",
                                           "optimizer_misconfigured",
                                           "bad_lr_schedule",
                                           "excessive_regularization",
                                           "grad_clip_too_tight",
                                           "gradients_not_reset",
                                           "params_not_updated",
                                           "loss_sign_flipped",
                                           "model_in_eval_mode",
                                           "same_data_on_every_rank",
                                           "shard_not_reshuffled",
                                           "rank_specific_data_fault",
                                           "lr_not_scaled_for_global_batch",
                                           "replicas_diverged",
                                           "healthy"};
  EXPECT_EQ(cause_ids(), design);
  EXPECT_THROW(cause_info("overfitting"), std::out_of_range) << "overfitting is a note";
}

TEST(CausesTable, EveryCauseHasAnExplanationAFixAndAnIntervention) {
  for (const auto& c : cause_table()) {
    EXPECT_GE(std::count(c.explanation.begin(), c.explanation.end(), '.'), 2)
        << c.id << ": two sentences";
    EXPECT_FALSE(c.fix_hint.empty()) << c.id;
    switch (c.intervention) {
      case Intervention::ApplyFix:
        EXPECT_TRUE(!c.default_fix.empty() || !c.lint_rules.empty())
            << c.id << ": a rerun needs a fix, from the table or from its lint rules";
        EXPECT_FALSE(c.intervention_text.empty()) << c.id;
        break;
      case Intervention::DropFlagged:
      case Intervention::Oversample:
        EXPECT_FALSE(c.intervention_text.empty()) << c.id;
        EXPECT_FALSE(c.audit_checks.empty()) << c.id << ": something must flag the samples";
        break;
      case Intervention::None:
        EXPECT_TRUE(c.group == CauseGroup::TrainingLoop || c.group == CauseGroup::NoFault)
            << c.id << ": only loop bugs and `healthy` have no rerun";
        break;
    }
  }
}

TEST(CausesTable, EveryCauseHasADocSection) {
  const std::string doc = read_doc("diagnoses.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& id : cause_ids())
    EXPECT_NE(doc.find("### `" + id + "`"), std::string::npos) << id << " in docs/diagnoses.md";
}

TEST(CausesTable, LintRulesAndTheTableAgreeBothWays) {
  std::set<std::string> rule_ids;
  for (const auto& rule : lint::lint_rules()) {
    rule_ids.insert(rule.id);
    EXPECT_TRUE(contains(cause_info(rule.cause).lint_rules, rule.id))
        << "rule " << rule.id << " feeds " << rule.cause << " but its row does not list it";
  }
  for (const auto& c : cause_table())
    for (const auto& r : c.lint_rules)
      EXPECT_TRUE(rule_ids.count(r)) << c.id << " lists an unknown lint rule " << r;
}

TEST(CausesTable, DefaultFixesAreValidOverrides) {
  const std::string base =
      "model: {layers: [{conv2d: {filters: 4}}, relu, flatten, {dense: {units: 10}}]}\n"
      "optimizer: {type: sgd, lr: 0.1}\nclip_grad_norm: 0.01\n"
      "schedule: {type: step, step_size: 1, gamma: 0.5}\n";
  for (const auto& c : cause_table()) {
    std::vector<std::string> sets;
    for (const auto& [k, v] : default_fix(c.id, 0.1)) sets.push_back(k + "=" + v);
    EXPECT_NO_THROW(spec::parse_spec_text(base, "base.yaml", sets)) << c.id;
  }
  EXPECT_EQ(default_fix("lr_too_high", 0.1).at("optimizer.lr"), "0.01");
  EXPECT_EQ(default_fix("lr_too_low", 1e-5).at("optimizer.lr"), "0.0001");
}

}  // namespace
}  // namespace lossdoctor::report
