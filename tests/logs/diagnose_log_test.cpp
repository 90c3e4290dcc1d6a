#include "lossdoctor/logs/diagnose_log.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "log_fixtures.hpp"
#include "lossdoctor/logs/read_log.hpp"

namespace lossdoctor::logs {
namespace {

using test::TempDir;

bool has_symptom(const report::Report& r, const std::string& id) {
  return std::any_of(r.symptoms.begin(), r.symptoms.end(),
                     [&](const Symptom& s) { return s.id == id; });
}
const Finding* finding(const report::Report& r, const std::string& cause) {
  for (const auto& f : r.findings)
    if (f.cause == cause) return &f;
  return nullptr;
}
bool has_note(const report::Report& r, const std::string& text) {
  return std::any_of(r.notes.begin(), r.notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}
std::string describe(const report::Report& r) {
  std::string out = r.verdict + ":";
  for (const auto& f : r.findings) out += fmt::format(" {}({:.2f})", f.cause, f.confidence);
  out += " |";
  for (const auto& s : r.symptoms) out += " " + s.id;
  return out;
}

/// A Keras CSVLogger file from per-epoch (loss, val_loss, val_accuracy, lr) rows.
std::string keras_csv(const std::vector<std::array<double, 4>>& rows) {
  std::string text = "epoch,accuracy,loss,lr,val_accuracy,val_loss\n";
  for (size_t e = 0; e < rows.size(); ++e) {
    const auto& [loss, val_loss, val_acc, lr] = rows[e];
    text += fmt::format("{},{},{},{},{},{}\n", e, std::max(0.0, 1 - loss / 2.5), loss, lr, val_acc,
                        val_loss);
  }
  return text;
}

report::Report diagnose_text(const std::string& name, const std::string& text, int64_t k,
                             std::string optimizer = "") {
  TempDir dir;
  const LogData log = read_log(dir.write(name, text), LogFormat::Auto, {});
  LogDiagnosisOptions options;
  options.num_classes = k;
  options.optimizer = std::move(optimizer);
  return diagnose_log(log, options);
}

TEST(DiagnoseLog, TheReadersNotesReachTheReport) {
  const report::Report r = diagnose_text("cut.log", "epoch,loss\n0,2.3\n1,1.9\n2,1.6\n3,1.", 10);
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
    return n.find("cut.log:5: the last row has no final newline") != std::string::npos;
  })) << describe(r);
}

TEST(DiagnoseLog, KerasHealthyEpochsAreHealthy) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 10; ++e) {
    const double loss = 0.3 + 0.6 * std::exp(-e / 3.0);
    rows.push_back({loss, loss + 0.05, 0.9 - 0.5 * std::exp(-e / 3.0), 0.001});
  }
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 10, "adam");
  EXPECT_EQ(r.verdict, "healthy") << describe(r);
  EXPECT_EQ(r.command, "diagnose-log");
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().cause, "healthy");
  EXPECT_FALSE(has_symptom(r, "bad_initial_loss"));  // epoch 0's mean is not the initial loss
  EXPECT_TRUE(has_note(r, "one row per epoch"));
  EXPECT_TRUE(has_note(r, "Monitor"));
}

TEST(DiagnoseLog, KerasDivergingWithNanIsUnhealthyAndModest) {
  const std::vector<std::array<double, 4>> rows = {
      {2.1, 2.0, 0.3, 0.5}, {1.5, 1.4, 0.5, 0.5},   {1.2, 1.3, 0.55, 0.5}, {1.6, 1.9, 0.4, 0.5},
      {3.5, 4.0, 0.2, 0.5}, {12.0, 15.0, 0.1, 0.5}, {NAN, NAN, 0.1, 0.5},  {NAN, NAN, 0.1, 0.5}};
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 10);
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  EXPECT_TRUE(has_symptom(r, "nan_loss"));
  EXPECT_TRUE(has_symptom(r, "diverging_loss")) << describe(r);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().cause, "lr_too_high") << describe(r);
  for (const auto& f : r.findings) {
    EXPECT_EQ(f.status, "suspected");
    EXPECT_LE(f.confidence, kCurveOnlyMaxConfidence);
  }
  EXPECT_TRUE(has_note(r, "to check lr_too_high"));
  // Nothing is concluded from fields a log cannot hold.
  for (const char* id : {"exploding_gradient", "vanishing_gradient", "dead_units",
                         "unchanged_weights", "bad_initial_loss"}) {
    EXPECT_FALSE(has_symptom(r, id)) << id;
  }
}

TEST(DiagnoseLog, PlateauAtChanceNeedsK) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 8; ++e) rows.push_back({2.30 + 0.005 * (e % 2), 2.31, 0.10, 0.01});
  const report::Report with_k = diagnose_text("training.log", keras_csv(rows), 10);
  EXPECT_EQ(with_k.verdict, "unhealthy") << describe(with_k);
  EXPECT_TRUE(has_symptom(with_k, "plateau_at_chance")) << describe(with_k);

  const report::Report without_k = diagnose_text("training.log", keras_csv(rows), 0);
  EXPECT_FALSE(has_symptom(without_k, "plateau_at_chance")) << describe(without_k);
  EXPECT_TRUE(has_note(without_k, "chance level not judged"));
  // K = 4: ln 4 = 1.39, so a loss of 2.3 is not "at chance" (nothing assumes 10 classes).
  const report::Report k4 = diagnose_text("training.log", keras_csv(rows), 4);
  EXPECT_FALSE(std::any_of(k4.symptoms.begin(), k4.symptoms.end(), [](const Symptom& s) {
    return s.id == "plateau_at_chance" && s.evidence.front().find("training loss") == 0;
  }));
}

TEST(DiagnoseLog, ValidationLossRisingWhileTrainingFallsIsAnOverfittingNote) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 10; ++e) {
    const double loss = 1.0 * std::exp(-e / 3.0) + 0.05;
    const double val = e < 4 ? 0.9 - 0.1 * e : 0.5 + 0.08 * (e - 4);
    rows.push_back({loss, val, 0.85, 0.001});
  }
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 10);
  EXPECT_TRUE(has_symptom(r, "overfitting")) << describe(r);
  EXPECT_TRUE(has_note(r, "overfitting")) << describe(r);
  EXPECT_EQ(r.verdict, "healthy") << describe(r);
}

TEST(DiagnoseLog, TinyLoggedLrWithAStalledLossSuspectsLrTooLow) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 10; ++e) rows.push_back({1.9 - 0.01 * e, 1.95 - 0.01 * e, 0.3, 1e-7});
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 0);
  EXPECT_TRUE(has_symptom(r, "slow_convergence")) << describe(r);
  const Finding* f = finding(r, "lr_too_low");
  const bool in_notes = has_note(r, "lr_too_low");
  EXPECT_TRUE(f != nullptr || in_notes) << describe(r);
  if (f) {
    EXPECT_LE(f->confidence, kCurveOnlyMaxConfidence);
  }

  // The same curve with a usual rate: no lr_too_low from the lr.
  for (auto& row : rows) row[3] = 1e-3;
  const report::Report usual = diagnose_text("training.log", keras_csv(rows), 0);
  EXPECT_EQ(finding(usual, "lr_too_low"), nullptr) << describe(usual);
}

TEST(DiagnoseLog, LrThatDecaysToNothingEarlyIsASchedulePoint) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 10; ++e) {
    rows.push_back({1.2 - (e < 2 ? 0.3 * e : 0.6) + 0.001 * e, 1.3, 0.6, 0.1 * std::pow(1e-2, e)});
  }
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 0);
  const bool found = finding(r, "bad_lr_schedule") != nullptr || has_note(r, "bad_lr_schedule");
  EXPECT_TRUE(found) << describe(r);
}

TEST(DiagnoseLog, LrThatGrowsIsASchedulePoint) {
  std::vector<std::array<double, 4>> rows;
  for (int e = 0; e < 8; ++e) {
    const double loss = e < 4 ? 1.0 - 0.1 * e : 0.7 + 0.4 * (e - 3);
    rows.push_back({loss, loss + 0.1, 0.6, 0.01 * std::pow(3.0, e)});
  }
  const report::Report r = diagnose_text("training.log", keras_csv(rows), 0);
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  EXPECT_NE(finding(r, "bad_lr_schedule"), nullptr) << describe(r);
}

TEST(DiagnoseLog, LightningStepLogThatDivergesUsesTheStepDetectors) {
  std::string text = "epoch,step,train_loss,val_loss\n";
  for (int i = 0; i < 120; ++i) {
    const double loss = i < 40 ? 2.3 - 0.02 * i : 1.5 * std::exp((i - 40) / 25.0);
    text += fmt::format("{},{},{},\n", i / 40, 49 + 50 * i, loss);
    if (i % 40 == 39) text += fmt::format("{},{},,{}\n", i / 40, 49 + 50 * i, loss * 1.1);
  }
  const report::Report r = diagnose_text("metrics.csv", text, 10);
  EXPECT_EQ(r.verdict, "unhealthy") << describe(r);
  EXPECT_TRUE(has_symptom(r, "diverging_loss")) << describe(r);
  EXPECT_FALSE(has_symptom(r, "bad_initial_loss"));  // the log starts at step 49
  EXPECT_FALSE(has_symptom(r, "exploding_gradient"));
  EXPECT_FALSE(has_note(r, "one row per epoch"));
}

TEST(DiagnoseLog, TensorBoardHealthyCurve) {
  TempDir dir;
  std::string bytes = test::tfrecord(test::file_version_event());
  for (int s = 0; s < 80; ++s) {
    const float loss = static_cast<float>(2.3 * std::exp(-s / 20.0) + 0.2 + 0.03 * ((s * 7) % 5));
    bytes += test::tfrecord(test::tf2_scalar_event("loss", s, loss, s % 2 == 0));
  }
  const LogData log =
      read_log(dir.write("events.out.tfevents.3", bytes), LogFormat::Auto, ColumnMap{});
  LogDiagnosisOptions options;
  options.num_classes = 10;
  const report::Report r = diagnose_log(log, options);
  EXPECT_EQ(r.verdict, "healthy") << describe(r);
  EXPECT_TRUE(has_note(r, "no validation curve"));
  EXPECT_TRUE(has_note(r, "no learning-rate column"));
}

TEST(DiagnoseLog, TheRecordHoldsOnlyWhatALogCan) {
  LogData log;
  log.path = "x.csv";
  log.steps = {{0, 0, 2.3, 0.1, std::nullopt}, {1, 0, 2.2, std::nullopt, 0.2}};
  const RunRecord r = to_record(log, {});
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_TRUE(std::isnan(r.steps[0].grad_norm));
  EXPECT_TRUE(std::isnan(r.steps[0].update_norm));
  EXPECT_TRUE(std::isnan(r.steps[0].weight_norm));
  EXPECT_TRUE(std::isnan(r.steps[0].input.max));
  EXPECT_TRUE(std::isnan(r.steps[0].batch_accuracy));
  EXPECT_TRUE(std::isnan(r.steps[1].lr));
  EXPECT_DOUBLE_EQ(r.steps[1].batch_accuracy, 0.2);
  EXPECT_TRUE(r.layers.empty());
  EXPECT_TRUE(r.probes.empty());
  EXPECT_EQ(r.num_classes, 0);
  EXPECT_EQ(r.base_lr, 0);  // optimiser unknown: the rate is not judged against a range
  EXPECT_FALSE(r.train_stats.has_value());

  LogData epochs;
  for (int e = 0; e < 2; ++e) {
    EpochRow row;
    row.epoch = e;
    row.train_loss = 1.0 - 0.2 * e;
    epochs.epochs.push_back(row);
  }
  const RunRecord e = to_record(epochs, {});
  ASSERT_EQ(e.steps.size(), 2u);
  EXPECT_EQ(e.steps[0].step, 1);  // after epoch 0: never "step 0, before any update"
}

}  // namespace
}  // namespace lossdoctor::logs
