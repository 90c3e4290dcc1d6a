// lint rule lr-scaled-without-warmup (lint/rules/distributed_rules.cpp): a rate scaled with the
// global batch past the optimiser's usual range, with no warmup, in a data-parallel run.
#include <gtest/gtest.h>

#include "lint/lint_test_util.hpp"
#include "lossdoctor/lint/rules/rules.hpp"

namespace lossdoctor::lint {
namespace {

using testing::SpecText;

LintResult lint_for(int64_t world, const std::string& optimizer, const std::string& schedule = "") {
  SpecText t;
  t.optimizer = optimizer;
  t.extra += schedule;
  LintContext ctx;
  ctx.world_size = world;
  LintResult r;
  rules::lr_scaled_without_warmup(spec::parse_spec_text(t.yaml(), "ddp.yaml"), ctx, r);
  return r;
}

TEST(LrScaledWithoutWarmup, EightRanksPushAdamPastItsUsualRange) {
  const LintResult r = lint_for(8, "{type: adam, lr: 0.003, lr_scaling: linear}");
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings.front();
  EXPECT_EQ(f.cause, "lr_not_scaled_for_global_batch");
  EXPECT_EQ(f.severity, "warning");
  EXPECT_NE(f.evidence.front().find("lr 0.003 × 8 = 0.024"), std::string::npos)
      << f.evidence.front();
  EXPECT_EQ(f.fix.at("schedule.warmup_steps"), "100");
}

TEST(LrScaledWithoutWarmup, NearMisses) {
  // One process; no scaling; a warmup; a scaled rate still usual; sqrt scaling that stays usual.
  EXPECT_TRUE(lint_for(1, "{type: adam, lr: 0.003, lr_scaling: linear}").findings.empty());
  EXPECT_TRUE(lint_for(8, "{type: adam, lr: 0.003}").findings.empty());
  EXPECT_TRUE(lint_for(8, "{type: adam, lr: 0.003, lr_scaling: linear}",
                       "schedule: {type: constant, warmup_steps: 50}\n")
                  .findings.empty());
  EXPECT_TRUE(lint_for(2, "{type: adam, lr: 0.003, lr_scaling: linear}").findings.empty());
  EXPECT_TRUE(lint_for(8, "{type: adam, lr: 0.003, lr_scaling: sqrt}").findings.empty());
  // A rate already outside the usual range is lr-too-high's, not this rule's.
  EXPECT_TRUE(lint_for(8, "{type: adam, lr: 0.05, lr_scaling: linear}").findings.empty());
}

TEST(LrScaledWithoutWarmup, IsRegisteredForItsCause) {
  bool found = false;
  for (const auto& rule : lint_rules())
    found = found || (rule.id == "lr-scaled-without-warmup" &&
                      rule.cause == "lr_not_scaled_for_global_batch");
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace lossdoctor::lint
