#include "lossdoctor/logs/read_log.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "log_fixtures.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {
namespace {

using test::TempDir;

std::string error_of(const std::string& path, LogFormat format = LogFormat::Auto,
                     const ColumnMap& map = {}) {
  try {
    read_log(path, format, map);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ReadLog, KerasCsvLoggerIsOneRowPerEpoch) {
  TempDir dir;
  const std::string path = dir.write("training.log",
                                     "epoch,accuracy,loss,lr,val_accuracy,val_loss\n"
                                     "0,0.70,0.85,0.001,0.78,0.62\n"
                                     "1,0.81,0.52,0.001,0.82,0.50\n"
                                     "2,0.85,0.42,0.001,0.84,0.45\n");
  const LogData log = read_log(path, LogFormat::Auto, {});
  EXPECT_EQ(log.format, LogFormat::Keras);
  EXPECT_TRUE(log.steps.empty());
  ASSERT_EQ(log.epochs.size(), 3u);
  EXPECT_EQ(log.epochs[2].epoch, 2);
  EXPECT_DOUBLE_EQ(*log.epochs[1].train_loss, 0.52);
  EXPECT_DOUBLE_EQ(*log.epochs[1].val_loss, 0.50);
  EXPECT_DOUBLE_EQ(*log.epochs[1].val_accuracy, 0.82);
  EXPECT_DOUBLE_EQ(*log.epochs[0].lr, 0.001);
  EXPECT_EQ(log.columns.at("loss"), "loss");
  EXPECT_EQ(log.columns.at("val_accuracy"), "val_accuracy");
}

TEST(ReadLog, NanAndInfCellsAreData) {
  TempDir dir;
  const std::string path =
      dir.write("log.csv", "epoch,loss,val_loss\n0,2.1,2.0\n1,nan,NaN\n2,inf,-inf\n");
  const LogData log = read_log(path, LogFormat::Auto, {});
  ASSERT_EQ(log.epochs.size(), 3u);
  EXPECT_TRUE(std::isnan(*log.epochs[1].train_loss));
  EXPECT_TRUE(std::isinf(*log.epochs[2].train_loss));
}

TEST(ReadLog, LightningInterleavesStepAndEpochRows) {
  TempDir dir;
  // Lightning's CSVLogger: train_loss per logged step, val_loss per epoch, lr in rows of its
  // own (LearningRateMonitor), empty cells elsewhere.
  const std::string text =
      "epoch,lr-Adam,step,train_loss,val_acc,val_loss\n"
      ",0.001,0,,,\n"
      "0,,49,2.10,,\n"
      "0,,99,1.80,,\n"
      "0,,99,,0.45,1.70\n"
      "1,,149,1.50,,\n"
      "1,,199,1.30,,\n"
      "1,,199,,0.60,1.25\n";
  const std::string path = dir.write("lightning_logs/version_0/metrics.csv", text);
  for (const std::string& arg : {path, dir.path.string()}) {  // the file or its directory
    const LogData log = read_log(arg, LogFormat::Auto, {});
    EXPECT_EQ(log.format, LogFormat::Lightning);
    ASSERT_EQ(log.steps.size(), 4u);
    EXPECT_EQ(log.steps[0].step, 49);
    EXPECT_DOUBLE_EQ(log.steps[3].loss, 1.30);
    EXPECT_EQ(*log.steps[3].epoch, 1);
    EXPECT_DOUBLE_EQ(*log.steps[2].lr, 0.001);  // from the lr row
    ASSERT_EQ(log.epochs.size(), 2u);
    EXPECT_DOUBLE_EQ(*log.epochs[1].val_loss, 1.25);
    EXPECT_DOUBLE_EQ(*log.epochs[1].val_accuracy, 0.60);
    EXPECT_EQ(*log.epochs[1].step, 199);
    EXPECT_EQ(log.columns.at("lr"), "lr-Adam");
  }
}

TEST(ReadLog, LossdoctorRunDirectoryJoinsStepsAndEpochs) {
  TempDir dir;
  dir.write("run/steps.csv",
            "step,epoch,loss,lr,grad_norm,seconds\n0,0,2.3,0.01,1.5,0.1\n1,0,2.2,0.01,1.4,0.2\n"
            "2,1,2.0,0.01,1.3,0.3\n");
  dir.write("run/epochs.csv",
            "epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n"
            "0,1,2.25,0.2,2.1,0.3,0.01,0.2\n");
  const LogData log = read_log((dir.path / "run").string(), LogFormat::Auto, {});
  EXPECT_EQ(log.format, LogFormat::Lossdoctor);
  ASSERT_EQ(log.steps.size(), 3u);
  EXPECT_EQ(*log.steps[2].epoch, 1);
  ASSERT_EQ(log.epochs.size(), 1u);
  EXPECT_DOUBLE_EQ(*log.epochs[0].val_accuracy, 0.3);
  EXPECT_EQ(log.columns.at("val_loss"), "val_loss");
}

TEST(ReadLog, TensorBoardScalarsBecomeStepAndEpochRows) {
  TempDir dir;
  std::string bytes = test::tfrecord(test::file_version_event());
  for (int s = 0; s < 5; ++s) {
    bytes += test::tfrecord(test::tf1_scalar_event("train_loss", s * 10, 2.0f - 0.1f * s));
    bytes += test::tfrecord(test::tf2_scalar_event("lr", s * 10, 0.1f, s % 2 == 0));
  }
  bytes += test::tfrecord(test::tf2_scalar_event("val_loss", 40, 1.7f, false));
  dir.write("tb/events.out.tfevents.1700000000.host.1.0", bytes);
  const LogData log = read_log((dir.path / "tb").string(), LogFormat::Auto, {});
  EXPECT_EQ(log.format, LogFormat::TensorBoard);
  ASSERT_EQ(log.steps.size(), 5u);
  EXPECT_EQ(log.steps[4].step, 40);
  EXPECT_NEAR(log.steps[4].loss, 1.6, 1e-6);
  EXPECT_NEAR(*log.steps[4].lr, 0.1, 1e-6);
  ASSERT_EQ(log.epochs.size(), 1u);
  EXPECT_NEAR(*log.epochs[0].val_loss, 1.7, 1e-6);
}

TEST(ReadLog, KerasTensorBoardEpochTagsAreEpochRows) {
  TempDir dir;
  std::string bytes = test::tfrecord(test::file_version_event());
  for (int e = 0; e < 3; ++e)
    bytes += test::tfrecord(test::tf2_scalar_event("epoch_loss", e, 1.0f - 0.2f * e, true));
  const LogData log = read_log(dir.write("events.out.tfevents.2", bytes), LogFormat::Auto, {});
  EXPECT_TRUE(log.steps.empty());
  ASSERT_EQ(log.epochs.size(), 3u);
  EXPECT_NEAR(*log.epochs[2].train_loss, 0.6, 1e-6);
}

TEST(ReadLog, FlagsMapOtherColumnNames) {
  TempDir dir;
  const std::string path = dir.write("custom.csv", "it,objective,rate\n0,2.0,0.1\n1,1.5,0.1\n");
  EXPECT_NE(error_of(path).find("no training-loss column"), std::string::npos);
  ColumnMap map;
  map.loss = "objective";
  map.step = "it";
  map.lr = "rate";
  const LogData log = read_log(path, LogFormat::Auto, map);
  ASSERT_EQ(log.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(log.steps[1].loss, 1.5);
  EXPECT_DOUBLE_EQ(*log.steps[1].lr, 0.1);
  map.val_loss = "nope";
  const std::string e = error_of(path, LogFormat::Auto, map);
  EXPECT_NE(e.find("--val-loss-column 'nope' is not among its columns"), std::string::npos) << e;
}

TEST(ReadLog, BadCsvLogsNameFileLineAndColumn) {
  TempDir dir;
  const std::string none = error_of(dir.write("a.csv", "epoch,acc\n0,0.5\n"));
  EXPECT_NE(none.find("a.csv: no training-loss column or tag among: epoch, acc"), std::string::npos)
      << none;
  EXPECT_NE(none.find("--loss-column"), std::string::npos);

  const std::string text = error_of(dir.write("b.csv", "epoch,loss\n0,2.0\n1,abc\n"));
  EXPECT_NE(text.find("b.csv:3: column 'loss': 'abc' is not a number"), std::string::npos) << text;

  const std::string ragged = error_of(dir.write("c.csv", "epoch,loss\n0,2.0\n1,1.9,7\n"));
  EXPECT_NE(ragged.find("c.csv:3: 3 cells, but the header (line 1) has 2 columns"),
            std::string::npos)
      << ragged;

  EXPECT_NE(error_of(dir.write("d.csv", "")).find("d.csv: empty file"), std::string::npos);
  EXPECT_NE(error_of(dir.write("e.csv", "epoch,loss\n")).find("no data rows"), std::string::npos);
  EXPECT_NE(error_of(dir.write("f.csv", "epoch,loss,val_loss\n0,,1.0\n")).find("has no values"),
            std::string::npos);
  // A text column nobody asked for is not read.
  EXPECT_EQ(error_of(dir.write("g.csv", "epoch,loss,note\n0,2.0,warmup\n1,1.9,x\n")), "");
}

TEST(ReadLog, ALastRowWithoutItsNewlineIsLeftOutWithANote) {
  TempDir dir;
  const std::string rows = "epoch,accuracy,loss,lr\n0,0.70,0.85,0.001\n1,0.81,0.52,0.001\n";
  // Cut inside the last number ("1e-0" of "1e-05"): every cell is there, the value is wrong.
  const LogData cut = read_log(dir.write("cut.log", rows + "2,0.84,0.4,1e-0"), LogFormat::Auto, {});
  ASSERT_EQ(cut.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(*cut.epochs.back().lr, 0.001);
  ASSERT_EQ(cut.notes.size(), 1u);
  EXPECT_NE(cut.notes[0].find("cut.log:4: the last row has no final newline"), std::string::npos)
      << cut.notes[0];
  EXPECT_NE(cut.notes[0].find("left out"), std::string::npos) << cut.notes[0];
  // Near miss: the same rows ended by a newline (CRLF, as Python's csv writer) are all read.
  const LogData whole =
      read_log(dir.write("whole.log", rows + "2,0.84,0.4,1e-05\r\n"), LogFormat::Auto, {});
  EXPECT_EQ(whole.epochs.size(), 3u);
  EXPECT_TRUE(whole.notes.empty());
  // The only row is kept, with the note.
  const LogData one = read_log(dir.write("one.log", "epoch,loss\n0,2.3"), LogFormat::Auto, {});
  EXPECT_EQ(one.epochs.size(), 1u);
  ASSERT_EQ(one.notes.size(), 1u);
  EXPECT_NE(one.notes[0].find("only row"), std::string::npos) << one.notes[0];
}

TEST(ReadLog, DirectoriesWithNoLogOrSeveralAreRefused) {
  TempDir dir;
  std::filesystem::create_directories(dir.path / "empty");
  EXPECT_NE(error_of((dir.path / "empty").string()).find("no training log"), std::string::npos);
  dir.write("two/version_0/metrics.csv", "step,loss\n0,1\n");
  dir.write("two/version_1/metrics.csv", "step,loss\n0,1\n");
  EXPECT_NE(error_of((dir.path / "two").string()).find("holds 2 logs"), std::string::npos);
  EXPECT_NE(error_of((dir.path / "missing.csv").string()).find("no such file"), std::string::npos);
}

TEST(ReadLog, FormatTensorboardOnACsvIsABadRecord) {
  TempDir dir;
  const std::string e =
      error_of(dir.write("x.csv", "epoch,loss\n0,2.0\n1,1.9\n"), LogFormat::TensorBoard);
  EXPECT_NE(e.find("record 1 at byte 0: length CRC mismatch"), std::string::npos) << e;
}

}  // namespace
}  // namespace lossdoctor::logs
