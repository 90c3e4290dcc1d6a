// --tensorboard DIR on train, diagnose (with and without confirmation arms) and audit through
// the real CLI, read back with the project's own event reader (logs/tfrecord).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "cli/shell_run.hpp"
#include "cli/tiny_spec.hpp"
#include "lossdoctor/logs/tfrecord.hpp"

namespace {

namespace fs = std::filesystem;
using lossdoctor::logs::EventValue;

lossdoctor::test::ShellRun run_cli(const std::string& args) {
  return lossdoctor::test::run_shell(std::string("cd ") + LOSSDOCTOR_SOURCE_DIR + " && " +
                                     LOSSDOCTOR_CLI_PATH + " --threads 1 " + args);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("lossdoctor_tb_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::string kTinySpec = lossdoctor::test::tiny_spec(256);

/// What one run folder holds: scalars per tag, text per tag, image and histogram tags.
struct EventRun {
  std::string file;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> scalars;
  std::map<std::string, std::string> text;
  std::map<std::string, EventValue::Image> images;
  std::set<std::string> histograms;
  size_t events = 0;
};

EventRun read_run(const fs::path& dir) {
  EventRun r;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("events.out.tfevents.", 0) != 0) continue;
    EXPECT_TRUE(r.file.empty()) << "two event files in " << dir;
    r.file = entry.path().string();
  }
  if (r.file.empty()) {
    ADD_FAILURE() << "no event file in " << dir;
    return r;
  }
  const auto events = lossdoctor::logs::read_events(r.file);
  r.events = events.size();
  EXPECT_EQ(events.at(0).file_version, "brain.Event:2");
  for (const auto& e : events) {
    for (const auto& v : e.values) {
      switch (v.kind) {
        case EventValue::Kind::Scalar:
          r.scalars[v.tag].emplace_back(e.step, v.value);
          break;
        case EventValue::Kind::Text:
          r.text[v.tag] = v.text;
          break;
        case EventValue::Kind::Image:
          r.images[v.tag] = v.image;
          break;
        case EventValue::Kind::Histogram:
          r.histograms.insert(v.tag);
          break;
        default:
          break;
      }
    }
  }
  return r;
}

TEST(TensorBoardCli, TrainWritesLiveScalars) {
  const fs::path dir = temp_dir("train");
  std::ofstream(dir / "spec.yaml") << kTinySpec;
  const auto r =
      run_cli("train " + (dir / "spec.yaml").string() + " --tensorboard " + (dir / "tb").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("tensorboard: " + (dir / "tb").string()), std::string::npos) << r.out;
  const EventRun run = read_run(dir / "tb");
  ASSERT_EQ(run.scalars.at("train/loss").size(), 16u);  // 256 / 32 × 2 epochs
  EXPECT_EQ(run.scalars.at("train/loss")[5].first, 5);
  EXPECT_EQ(run.scalars.at("train/lr").size(), 16u);
  EXPECT_NEAR(run.scalars.at("train/lr")[0].second, 0.05, 1e-7);
  EXPECT_EQ(run.scalars.at("train/grad_norm").size(), 16u);
  ASSERT_EQ(run.scalars.at("val/loss").size(), 2u);
  EXPECT_EQ(run.scalars.at("val/loss")[1].first, 16);
  EXPECT_EQ(run.scalars.at("val/accuracy").size(), 2u);
  EXPECT_EQ(run.scalars.at("epoch/train_loss").size(), 2u);
  EXPECT_EQ(run.scalars.at("epoch/train_accuracy").size(), 2u);
  // diagnose-log reads it like any TensorBoard log.
  const auto log = run_cli("diagnose-log " + (dir / "tb").string() + " --num-classes 10 -q");
  EXPECT_TRUE(log.code == 0 || log.code == 1) << log.out;
  fs::remove_all(dir);
}

TEST(TensorBoardCli, DiagnoseWritesTheDiagnosisRun) {
  const fs::path dir = temp_dir("diagnose");
  std::ofstream(dir / "spec.yaml") << kTinySpec;
  const auto r = run_cli("diagnose " + (dir / "spec.yaml").string() +
                         " --set epochs=5 --budget-steps 40 --no-confirm --quiet --tensorboard " +
                         (dir / "tb").string());
  ASSERT_TRUE(r.code == 0 || r.code == 1) << r.out;
  std::vector<std::string> runs;
  for (const auto& e : fs::directory_iterator(dir / "tb")) runs.push_back(e.path().filename());
  EXPECT_EQ(runs, std::vector<std::string>{"diagnosis"});
  const EventRun run = read_run(dir / "tb" / "diagnosis");
  EXPECT_EQ(run.scalars.at("train/loss").size(), 40u);
  EXPECT_EQ(run.scalars.at("train/lr").size(), 40u);
  EXPECT_EQ(run.scalars.at("train/grad_norm").size(), 40u);
  EXPECT_FALSE(run.scalars.at("layers/layers[1].relu/dead_fraction").empty());
  EXPECT_FALSE(run.scalars.at("layers/layers[0].conv2d/update_ratio").empty());
  EXPECT_FALSE(run.scalars.at("layers/layers[3].dense/grad_norm").empty());
  EXPECT_FALSE(run.scalars.at("layers/layers[0].conv2d/activation_std").empty());
  EXPECT_EQ(run.text.count("findings"), 1u);
  EXPECT_NE(run.text.at("report").find("verdict"), std::string::npos) << run.text.at("report");
  EXPECT_EQ(run.histograms.count("samples/last_loss"), 1u);
  fs::remove_all(dir);
}

TEST(TensorBoardCli, ConfirmationArmsGetARunEach) {
  const fs::path dir = temp_dir("arms");
  std::string spec = kTinySpec;
  spec.replace(spec.find("lr: 0.05"), 8, "lr: 20.0");  // an obvious lr_too_high
  std::ofstream(dir / "spec.yaml") << spec;
  const auto r =
      run_cli("diagnose " + (dir / "spec.yaml").string() +
              " --set epochs=4 --budget-steps 32 --tensorboard " + (dir / "tb").string());
  ASSERT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("tensorboard: "), std::string::npos) << r.out;
  ASSERT_TRUE(fs::is_directory(dir / "tb" / "lr_too_high")) << r.out;
  const EventRun diagnosis = read_run(dir / "tb" / "diagnosis");
  EXPECT_FALSE(diagnosis.scalars.at("yardstick/val_loss").empty());
  EXPECT_NE(diagnosis.text.at("findings").find("| lr_too_high | confirmed |"), std::string::npos)
      << diagnosis.text.at("findings");
  const EventRun arm = read_run(dir / "tb" / "lr_too_high");
  EXPECT_EQ(arm.scalars.at("train/loss").size(), 32u);
  EXPECT_FALSE(arm.scalars.at("yardstick/val_accuracy").empty());
  EXPECT_NE(arm.text.at("confirmation").find("optimizer.lr"), std::string::npos);
  // Same tags in every run, so TensorBoard overlays them.
  EXPECT_LT(arm.scalars.at("train/loss").back().second,
            diagnosis.scalars.at("train/loss").back().second);
  fs::remove_all(dir);
}

TEST(TensorBoardCli, AuditWritesTheContactSheet) {
  const fs::path dir = temp_dir("audit");
  std::string spec = kTinySpec;
  spec.replace(spec.find("  transforms:"), 0, "  inject: {corrupt: {fraction: 0.05, kind: nan}}\n");
  std::ofstream(dir / "spec.yaml") << spec;
  const auto r = run_cli("audit " + (dir / "spec.yaml").string() +
                         " --no-labels --quiet --tensorboard " + (dir / "tb").string());
  ASSERT_EQ(r.code, 1) << r.out;
  const EventRun run = read_run(dir / "tb" / "audit");
  ASSERT_EQ(run.images.count("audit/contact_sheet"), 1u);
  const auto& sheet = run.images.at("audit/contact_sheet");
  EXPECT_EQ(sheet.encoded.substr(1, 3), "PNG");
  EXPECT_GT(sheet.width, 0);
  EXPECT_GT(sheet.height, 0);
  EXPECT_GE(run.scalars.at("audit/flagged/corrupt_samples").at(0).second, 1);
  EXPECT_NE(run.text.at("audit/flagged").find("corrupt_samples"), std::string::npos);
  EXPECT_FALSE(
      fs::exists(fs::temp_directory_path() / ("lossdoctor-audit-" + std::to_string(::getpid()))));
  fs::remove_all(dir);
}

TEST(TensorBoardCli, AFileAsTheFolderIsExitTwoBeforeWork) {
  const fs::path dir = temp_dir("bad");
  std::ofstream(dir / "spec.yaml") << kTinySpec;
  std::ofstream(dir / "file") << "x";
  for (const std::string cmd : {"train", "diagnose", "audit"}) {
    const auto r = run_cli(cmd + " " + (dir / "spec.yaml").string() + " --tensorboard " +
                           (dir / "file").string());
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("--tensorboard"), std::string::npos) << cmd << ": " << r.out;
  }
  fs::remove_all(dir);
}

}  // namespace
