// Registry, ordering and the healthy scenarios no detector may fire on.
#include "lossdoctor/diagnose/detectors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "diagnose/record_builder.hpp"

namespace lossdoctor::diagnose {
namespace {

using test::symptom_ids_of;

std::string describe(const std::vector<Symptom>& symptoms) {
  std::string out;
  for (const auto& s : symptoms) {
    out += s.id + " @" + std::to_string(s.step) + " value " + std::to_string(s.value) + ":";
    for (const auto& e : s.evidence) out += " [" + e + "]";
    out += "\n";
  }
  return out;
}

TEST(Detectors, CoverEverySymptomIdInOrder) {
  std::vector<std::string> ids;
  for (const auto& d : detectors()) {
    ids.push_back(d.id);
    EXPECT_NE(d.detect, nullptr) << d.id;
  }
  EXPECT_EQ(ids, symptom_ids());
}

TEST(Detectors, EmptyAndShortRecordsYieldNothing) {
  RunRecord empty;
  EXPECT_TRUE(detect_symptoms(empty).empty());
  test::RecordBuilder b;
  b.steps = 12;
  b.loss = [](int64_t t) { return 2.3 + 0.5 * static_cast<double>(t); };  // rising, but short
  const auto found = detect_symptoms(b.build());
  EXPECT_TRUE(found.empty()) << describe(found);
}

TEST(Detectors, EachDetectorOnlyEmitsItsOwnId) {
  RunRecord r = test::healthy_falling();
  // Break everything at once so most detectors have something to say.
  for (auto& s : r.steps) {
    s.loss = 50.0 + static_cast<double>(s.step);
    s.grad_norm = s.step < 20 ? 1.0 : 1e4;
    std::fill(s.label_histogram.begin(), s.label_histogram.end(), 0);
    s.label_histogram[static_cast<size_t>(s.step / 40 % 10)] = 64;
  }
  for (const auto& d : detectors()) {
    for (const auto& s : d.detect(r)) {
      EXPECT_EQ(s.id, d.id);
      EXPECT_GE(s.severity, 0.0);
      EXPECT_LE(s.severity, 1.0);
      EXPECT_FALSE(s.evidence.empty()) << s.id;
    }
  }
}

TEST(Detectors, DetectSymptomsSortsByStep) {
  RunRecord r = test::healthy_falling();
  // split_stats_mismatch (step −1), exploding_gradient late, nan_loss at the end.
  r.val_stats->channel_mean = {5.0};
  for (auto& s : r.steps) {
    if (s.step >= 300) s.grad_norm = 1e4;
  }
  r.steps[395].loss = std::nan("");
  const auto found = detect_symptoms(r);
  ASSERT_GE(found.size(), 3u) << describe(found);
  EXPECT_TRUE(std::is_sorted(found.begin(), found.end(), [](const Symptom& a, const Symptom& b) {
    return a.step < b.step;
  })) << describe(found);
  const auto ids = symptom_ids_of(found);
  EXPECT_EQ(ids.front(), "split_stats_mismatch");
  EXPECT_EQ(ids.back(), "nan_loss");
}

class HealthyRun : public ::testing::TestWithParam<uint64_t> {};

TEST_P(HealthyRun, NoisySgdWithFallingTrend) {
  const auto found = detect_symptoms(test::healthy_falling(GetParam()));
  EXPECT_TRUE(found.empty()) << describe(found);
}

TEST_P(HealthyRun, StaircaseSchedule) {
  const auto found = detect_symptoms(test::healthy_staircase(GetParam()));
  EXPECT_TRUE(found.empty()) << describe(found);
}

TEST_P(HealthyRun, LabelSmoothingPlateau) {
  const auto found = detect_symptoms(test::healthy_label_smoothing(GetParam()));
  EXPECT_TRUE(found.empty()) << describe(found);
}

TEST_P(HealthyRun, HeavyAugmentation) {
  const auto found = detect_symptoms(test::healthy_heavy_augmentation(GetParam()));
  EXPECT_TRUE(found.empty()) << describe(found);
}

TEST_P(HealthyRun, LongRunThatOverfitsOnlyReportsOverfitting) {
  const auto found = detect_symptoms(test::healthy_overfitting(GetParam()));
  EXPECT_EQ(symptom_ids_of(found), std::vector<std::string>{"overfitting"}) << describe(found);
}

INSTANTIATE_TEST_SUITE_P(Seeds, HealthyRun, ::testing::Values(1u, 2u, 3u, 42u, 1234u));

}  // namespace
}  // namespace lossdoctor::diagnose

namespace lossdoctor::diagnose {
namespace {

TEST(Detectors, EverySymptomHasADetectorAndADocSection) {
  std::ifstream in(std::string(LOSSDOCTOR_SOURCE_DIR) + "/docs/diagnoses.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  ASSERT_FALSE(doc.empty());
  for (const auto& id : symptom_ids()) {
    EXPECT_NE(doc.find("### " + id + "\n"), std::string::npos) << id << " in docs/diagnoses.md";
    const auto& ds = detectors();
    EXPECT_TRUE(std::any_of(ds.begin(), ds.end(), [&](const Detector& d) { return d.id == id; }))
        << id << " has no detector";
  }
}

}  // namespace
}  // namespace lossdoctor::diagnose
