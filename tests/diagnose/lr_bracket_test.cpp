// The learning-rate bracket's suspicions (diagnose/lr_bracket.hpp) on synthetic RunRecords.

#include "lossdoctor/diagnose/lr_bracket.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "diagnose/record_builder.hpp"

namespace lossdoctor::diagnose {
namespace {

RunRecord healthy_sgd(double lr) {
  test::RecordBuilder b;
  b.lr = [lr](int64_t) { return lr; };
  return b.build();
}

TEST(LrBracket, BothDirectionsWithTheRateScaledByTheFactorLowFirst) {
  const RunRecord r = healthy_sgd(0.01);
  ASSERT_EQ(r.optimizer, "sgd");
  const auto fs = lr_bracket_findings(r, 3.0, {});
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].cause, "lr_too_low");
  EXPECT_EQ(fs[0].fix.at("optimizer.lr"), "0.03");
  EXPECT_EQ(fs[1].cause, "lr_too_high");
  EXPECT_EQ(fs[1].fix.at("optimizer.lr"), "0.00333");
  for (const auto& f : fs) {
    EXPECT_EQ(f.status, "suspected");
    EXPECT_EQ(f.confidence, 0);
    EXPECT_FALSE(f.explanation.empty());
    EXPECT_EQ(f.fix.size(), 1u);
    ASSERT_EQ(f.evidence.size(), 1u);
    EXPECT_NE(f.evidence[0].find("learning-rate bracket"), std::string::npos) << f.evidence[0];
    EXPECT_NE(f.evidence[0].find("0.01"), std::string::npos) << "names the spec's rate";
  }
}

TEST(LrBracket, ARaisedSuspicionKeepsItsOwnFix) {
  Finding raised;
  raised.cause = "lr_too_high";
  raised.fix["optimizer.lr"] = "0.001";
  const auto fs = lr_bracket_findings(healthy_sgd(0.01), 2.0, {raised});
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "lr_too_low");
  EXPECT_EQ(fs[0].fix.at("optimizer.lr"), "0.02");
  Finding other;
  other.cause = "lr_too_low";
  EXPECT_TRUE(lr_bracket_findings(healthy_sgd(0.01), 2.0, {raised, other}).empty());
}

TEST(LrBracket, NothingWithoutAKnownOptimiserOrRate) {
  RunRecord r = healthy_sgd(0.01);
  r.optimizer = "other";  // a custom loop's optimiser: no rate to set
  EXPECT_TRUE(lr_bracket_findings(r, 3.0, {}).empty());
  r = healthy_sgd(0.01);
  r.base_lr = 0;
  EXPECT_TRUE(lr_bracket_findings(r, 3.0, {}).empty());
  r.optimizer = "adam";
  r.base_lr = 1e-3;
  EXPECT_EQ(lr_bracket_findings(r, 3.0, {}).size(), 2u);
}

TEST(LrBracket, AFactorOfOneOrLessIsRefused) {
  EXPECT_THROW(lr_bracket_findings(healthy_sgd(0.01), 1.0, {}), std::invalid_argument);
  EXPECT_THROW(lr_bracket_findings(healthy_sgd(0.01), 0.5, {}), std::invalid_argument);
}

}  // namespace
}  // namespace lossdoctor::diagnose
