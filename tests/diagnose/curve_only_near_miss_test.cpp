// Near misses of curve-only records (diagnose-log, a RunRecord without probes): fields a log
// cannot hold must not read as symptoms.
#include <gtest/gtest.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/signals.hpp"
#include "record_builder.hpp"

namespace lossdoctor::diagnose {
namespace {

TEST(CurveOnlyNearMiss, GradientNormNeverMeasuredIsNotExploding) {
  RunRecord r = test::RecordBuilder{}.build();
  for (auto& s : r.steps) s.grad_norm = NAN;
  r.steps.back().loss = NAN;  // even with a NaN loss: no gradient was measured
  EXPECT_TRUE(detect_exploding_gradient(r).empty());
  // A gradient that was measured and then turned NaN still is.
  RunRecord measured = test::RecordBuilder{}.build();
  for (size_t i = 200; i < measured.steps.size(); ++i) measured.steps[i].grad_norm = NAN;
  EXPECT_FALSE(detect_exploding_gradient(measured).empty());
}

TEST(CurveOnlyNearMiss, ARecordStartingAfterStepZeroHasNoInitialLoss) {
  test::RecordBuilder b;
  b.loss = [](int64_t) { return 0.2; };  // far below ln 10 from the first row on
  RunRecord r = b.build();
  EXPECT_FALSE(detect_bad_initial_loss(r).empty());  // at step 0: before any update
  for (auto& s : r.steps) s.step += 49;              // logged every step from step 49 on
  EXPECT_TRUE(detect_bad_initial_loss(r).empty());
}

TEST(CurveOnlyNearMiss, FirstUpdateJumpNeedsStepsZeroToThree) {
  test::RecordBuilder b;
  b.loss = [](int64_t t) { return t == 0 ? 2.3 : 60.0; };
  RunRecord r = b.build();
  EXPECT_GT(read_signals(r).first_update_jump, 10.0);
  for (size_t i = 0; i < r.steps.size(); ++i) r.steps[i].step = 50 * static_cast<int64_t>(i) + 49;
  EXPECT_DOUBLE_EQ(read_signals(r).first_update_jump, 1.0);
}

}  // namespace
}  // namespace lossdoctor::diagnose
