// diagnose --tensorboard's writer on a synthetic RunRecord and report, read back with the
// project's own event reader (logs/tfrecord).

#include "lossdoctor/report/tensorboard.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "diagnose/record_builder.hpp"
#include "logs/log_fixtures.hpp"
#include "lossdoctor/logs/tfrecord.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::report {
namespace {

namespace fs = std::filesystem;

struct Read {
  std::map<std::string, std::vector<std::pair<int64_t, double>>> scalars;
  std::map<std::string, std::string> text;
  std::set<std::string> histograms;
};

Read read_run(const std::string& path) {
  Read r;
  for (const auto& e : logs::read_events(path)) {
    for (const auto& v : e.values) {
      using Kind = logs::EventValue::Kind;
      if (v.kind == Kind::Scalar) r.scalars[v.tag].emplace_back(e.step, v.value);
      if (v.kind == Kind::Text) r.text[v.tag] = v.text;
      if (v.kind == Kind::Histogram) r.histograms.insert(v.tag);
    }
  }
  return r;
}

Report diagnosis_report() {
  Report r;
  r.command = "diagnose";
  r.verdict = "unhealthy";
  r.steps_run = 400;
  Finding f;
  f.cause = "lr_too_high";
  f.confidence = 0.9;
  f.status = "confirmed";
  f.first_step = 14;
  f.fix["optimizer.lr"] = "0.001";
  r.findings.push_back(f);
  Confirmation c;
  ConfirmationArm arm;
  arm.causes = {"lr_too_high"};
  arm.intervention = "--set optimizer.lr=0.001";
  arm.status = "confirmed";
  arm.steps = 60;
  arm.window = 400;
  for (int i = 0; i < 60; ++i) arm.train_loss.push_back(2.3 - 0.01 * i);
  arm.val_points = {{0, 2.3, 0.1}, {10, 2.0, 0.3}};
  c.arms.push_back(arm);
  ConfirmationArm skipped = arm;  // not rerun: no curve, no run
  skipped.causes = {"batch_too_small"};
  skipped.train_loss.clear();
  c.arms.push_back(skipped);
  ConfirmationArm pair = arm;
  pair.causes = {"lr_too_high", "bad init/scale"};
  c.arms.push_back(pair);
  c.baseline_val_points = {{0, 2.3, 0.1}, {10, 2.4, 0.1}};
  r.confirmation = c;
  return r;
}

TEST(TensorBoardReport, DiagnosisAndArmsEachGetARun) {
  test::TempDir dir;
  test::RecordBuilder b;
  b.steps_per_epoch = 100;
  RunRecord record = b.build();
  record.samples.resize(50);
  for (size_t i = 0; i < 40; ++i) record.samples[i] = {1, 0.5f, 0.2f, -1};  // 10 never seen
  const Report report = diagnosis_report();
  const EventFiles files = write_diagnose_events(dir.path.string(), report, record);
  ASSERT_EQ(files.files.size(), 3u);
  EXPECT_EQ(fs::path(files.files[0]).parent_path().filename(), "diagnosis");
  EXPECT_EQ(fs::path(files.files[1]).parent_path().filename(), "lr_too_high");
  EXPECT_EQ(fs::path(files.files[2]).parent_path().filename(), "lr_too_high+bad_init_scale");
  int64_t bytes = 0;
  for (const auto& f : files.files) bytes += static_cast<int64_t>(fs::file_size(f));
  EXPECT_EQ(bytes, files.bytes);

  const Read diag = read_run(files.files[0]);
  ASSERT_EQ(diag.scalars.at("train/loss").size(), 400u);
  EXPECT_NEAR(diag.scalars.at("train/loss")[7].second, record.steps[7].loss, 1e-5);
  EXPECT_EQ(diag.scalars.at("train/lr").size(), 400u);
  EXPECT_EQ(diag.scalars.at("train/grad_norm").size(), 400u);
  EXPECT_EQ(diag.scalars.at("val/loss").size(), 4u);
  EXPECT_EQ(diag.scalars.at("val/loss")[0].first, 99);
  EXPECT_EQ(diag.scalars.at("yardstick/val_loss").size(), 2u);
  // Per-layer probe statistics, 40 probes each; dead fraction only for ReLU layers, gradient
  // statistics only for layers with weights.
  EXPECT_EQ(diag.scalars.at("layers/layers[2].relu/dead_fraction").size(), 40u);
  EXPECT_EQ(diag.scalars.at("layers/layers[0].conv2d/update_ratio").size(), 40u);
  EXPECT_EQ(diag.scalars.at("layers/layers[7].dense/grad_norm").size(), 40u);
  EXPECT_EQ(diag.scalars.at("layers/layers[3].maxpool/activation_std").size(), 40u);
  EXPECT_EQ(diag.scalars.count("layers/layers[0].conv2d/dead_fraction"), 0u);
  EXPECT_EQ(diag.scalars.count("layers/layers[3].maxpool/grad_norm"), 0u);
  EXPECT_EQ(diag.histograms, (std::set<std::string>{"samples/last_loss", "samples/mean_margin"}));
  EXPECT_NE(diag.text.at("findings").find("| lr_too_high | confirmed | 0.90 | 14 |"),
            std::string::npos)
      << diag.text.at("findings");
  EXPECT_NE(diag.text.at("report").find("lr_too_high"), std::string::npos);

  const Read arm = read_run(files.files[1]);
  EXPECT_EQ(arm.scalars.at("train/loss").size(), 60u);
  EXPECT_EQ(arm.scalars.at("yardstick/val_accuracy").size(), 2u);
  EXPECT_NE(arm.text.at("confirmation").find("**confirmed**"), std::string::npos);
}

TEST(TensorBoardReport, NoConfirmationWritesTheDiagnosisOnly) {
  test::TempDir dir;
  Report report;
  report.findings.clear();
  const EventFiles files =
      write_diagnose_events(dir.path.string(), report, test::RecordBuilder{}.build());
  ASSERT_EQ(files.files.size(), 1u);
  const Read diag = read_run(files.files[0]);
  EXPECT_EQ(diag.scalars.count("yardstick/val_loss"), 0u);
  EXPECT_TRUE(diag.histograms.empty());  // no sample dynamics recorded
  EXPECT_NE(diag.text.at("findings").find("no findings"), std::string::npos);
}

TEST(TensorBoardReport, AuditGetsTheContactSheetAndCounts) {
  test::TempDir dir;
  Report report;
  report.command = "audit";
  report.verdict = "unhealthy";
  Finding f;
  f.cause = "corrupt_samples";
  f.confidence = 0.8;
  f.samples = {3, 9};
  f.samples_omitted = 5;
  report.findings.push_back(f);
  // Signature, IHDR length and type, 640×212, bit depth 8, colour type 2 (RGB), the rest.
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x02\x80\0\0\0\xd4\x08\x02\0\0\0", 29);
  png += std::string(20, 'x');
  ASSERT_TRUE(png_size(png));
  EXPECT_EQ(png_size(png)->width, 640);
  EXPECT_EQ(png_size(png)->height, 212);
  EXPECT_EQ(png_size(png)->channels, 3);
  EXPECT_FALSE(png_size("GIF89a"));
  const EventFiles files = write_audit_events(dir.path.string(), report, png);
  ASSERT_EQ(files.files.size(), 1u);
  EXPECT_EQ(fs::path(files.files[0]).parent_path().filename(), "audit");
  const Read audit = read_run(files.files[0]);
  EXPECT_EQ(audit.scalars.at("audit/flagged/corrupt_samples")[0].second, 7);
  EXPECT_NE(audit.text.at("audit/flagged").find("| corrupt_samples | 7 | 0.80 |"),
            std::string::npos);
  bool image = false;
  for (const auto& e : logs::read_events(files.files[0])) {
    for (const auto& v : e.values) {
      if (v.kind != logs::EventValue::Kind::Image) continue;
      image = true;
      EXPECT_EQ(v.tag, "audit/contact_sheet");
      EXPECT_EQ(v.image.width, 640);
      EXPECT_EQ(v.image.height, 212);
      EXPECT_EQ(v.image.encoded, png);
    }
  }
  EXPECT_TRUE(image);
  EXPECT_THROW(write_audit_events(dir.path.string(), report, "not a png"), InputError);
}

TEST(TensorBoardReport, ArmRunNamesAreSafeFolderNames) {
  ConfirmationArm arm;
  EXPECT_EQ(arm_run_name(arm), "arm");
  arm.causes = {"../x", "a b"};
  EXPECT_EQ(arm_run_name(arm), ".._x+a_b");
}

}  // namespace
}  // namespace lossdoctor::report
