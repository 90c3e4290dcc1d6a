// The event writer (util/event_writer) read back by the project's own reader (logs/tfrecord).

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "log_fixtures.hpp"
#include "lossdoctor/logs/read_log.hpp"
#include "lossdoctor/logs/tfrecord.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/event_writer.hpp"

namespace lossdoctor::logs {
namespace {

using Kind = EventValue::Kind;

TEST(EventRoundTrip, ScalarsTextImagesAndHistogramsDecode) {
  test::TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path.string());
    path = w.path();
    for (int64_t s = 0; s < 5; ++s) w.add_scalar("train/loss", s, 2.0 - 0.25 * s, 1.7e9 + s);
    w.add_text("report", 4, "verdict: unhealthy\n| a | b |");
    w.add_image("audit/contact_sheet", 4, std::string("\x89PNG\r\n\x1a\n rest", 13), 64, 32, 3);
    w.add_histogram("samples/last_loss", 4, {0.5, 1.5, 2.5, 2.5});
  }
  const std::vector<EventRecord> events = read_events(path);
  ASSERT_EQ(events.size(), 1u + 5u + 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].values.empty());
  for (int64_t s = 0; s < 5; ++s) {
    const EventRecord& e = events[static_cast<size_t>(1 + s)];
    EXPECT_EQ(e.step, s);
    EXPECT_DOUBLE_EQ(e.wall_time, 1.7e9 + s);
    ASSERT_EQ(e.values.size(), 1u);
    EXPECT_EQ(e.values[0].tag, "train/loss");
    EXPECT_EQ(e.values[0].kind, Kind::Scalar);
    EXPECT_FLOAT_EQ(static_cast<float>(e.values[0].value), static_cast<float>(2.0 - 0.25 * s));
  }
  const EventValue& text = events[6].values.at(0);
  EXPECT_EQ(text.kind, Kind::Text);
  EXPECT_EQ(text.plugin, "text");
  EXPECT_EQ(text.text, "verdict: unhealthy\n| a | b |");
  EXPECT_GT(events[6].wall_time, 1.6e9);  // "now"
  const EventValue& image = events[7].values.at(0);
  EXPECT_EQ(image.kind, Kind::Image);
  EXPECT_EQ(image.image.width, 64);
  EXPECT_EQ(image.image.height, 32);
  EXPECT_EQ(image.image.colorspace, 3);
  EXPECT_EQ(image.image.encoded, std::string("\x89PNG\r\n\x1a\n rest", 13));
  const EventValue& histo = events[8].values.at(0);
  EXPECT_EQ(histo.kind, Kind::Histogram);
  EXPECT_DOUBLE_EQ(histo.histogram.min, 0.5);
  EXPECT_DOUBLE_EQ(histo.histogram.max, 2.5);
  EXPECT_DOUBLE_EQ(histo.histogram.num, 4);
  EXPECT_DOUBLE_EQ(histo.histogram.sum, 7);
  ASSERT_EQ(histo.histogram.bucket.size(), histo.histogram.bucket_limit.size());
  double total = 0;
  for (double c : histo.histogram.bucket) total += c;
  EXPECT_DOUBLE_EQ(total, 4);
  EXPECT_DOUBLE_EQ(histo.histogram.bucket_limit.back(), 2.5);

  // The scalar reader diagnose-log uses sees the scalars only.
  const std::vector<ScalarEvent> scalars = read_event_scalars(path);
  ASSERT_EQ(scalars.size(), 5u);
  EXPECT_EQ(scalars[4].step, 4);
}

TEST(EventRoundTrip, DiagnoseLogReadsTheWrittenCurve) {
  test::TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path.string());
    path = w.path();
    for (int64_t s = 0; s < 50; ++s) {
      w.add_scalar("train/loss", s, 2.3 * std::exp(-0.02 * static_cast<double>(s)));
      w.add_scalar("train/lr", s, 0.01);
    }
    w.add_text("report", 49, "not a scalar");
  }
  const LogData log = read_log(dir.path.string(), LogFormat::Auto, {});
  EXPECT_EQ(log.format, LogFormat::TensorBoard);
  ASSERT_EQ(log.steps.size(), 50u);
  EXPECT_NEAR(log.steps[10].loss, 2.3 * std::exp(-0.2), 1e-5);
}

TEST(EventRoundTrip, ATornLastRecordIsNamed) {
  test::TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path.string());
    path = w.path();
    w.add_scalar("train/loss", 0, 1.0);
    w.add_scalar("train/loss", 1, 1.0);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  try {
    read_events(path);
    FAIL() << "a torn record was read";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("record 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lossdoctor::logs
