#include "lossdoctor/util/event_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "logs/log_fixtures.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t le_at(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

/// The payloads of a TFRecord file, every CRC checked with the bitwise CRC32C of the fixtures.
std::vector<std::string> records_of(const std::string& bytes) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_GE(bytes.size() - pos, 16u);
    const uint64_t length = le_at(bytes, pos, 8);
    EXPECT_EQ(le_at(bytes, pos + 8, 4), test::masked(test::bitwise_crc32c(bytes.substr(pos, 8))));
    const std::string data = bytes.substr(pos + 12, length);
    EXPECT_EQ(le_at(bytes, pos + 12 + length, 4), test::masked(test::bitwise_crc32c(data)));
    out.push_back(data);
    pos += 16 + length;
  }
  return out;
}

TEST(EventWriter, FrameIsLengthCrcDataCrc) {
  const std::string framed = tfrecord_frame("abc");
  ASSERT_EQ(framed.size(), 3u + 16u);
  EXPECT_EQ(framed, test::tfrecord("abc"));
  EXPECT_EQ(tfrecord_frame(""), test::tfrecord(""));
}

TEST(EventWriter, ScalarEncodingMatchesTheHandWrittenTf1Event) {
  // Event{wall_time = 1, step = 2, summary = 5 {value = 1 {tag = 1, simple_value = 2}}}.
  const std::string v = test::len_field(1, "train/loss") + test::key(2, 5) + test::float_bits(2.5f);
  const std::string expected = test::key(1, 1) + test::double_bits(1.7e9) + test::key(2, 0) +
                               test::varint(42) + test::len_field(5, test::len_field(1, v));
  EXPECT_EQ(event_proto::scalar("train/loss", 42, 2.5, 1.7e9), expected);
  EXPECT_EQ(event_proto::file_version(1.7e9), test::file_version_event());
}

TEST(EventWriter, WritesNamedFileWithFileVersionFirstAndValidCrcs) {
  test::TempDir dir;
  const std::string sub = (dir.path / "a" / "b").string();  // created with its parents
  std::string path;
  {
    EventWriter w(sub);
    path = w.path();
    w.add_scalar("train/loss", 0, 2.3);
    w.add_scalar("train/loss", 1, 2.1);
    w.add_text("report", 1, "verdict: healthy");
    w.add_image("sheet", 1, std::string("\x89PNG fake", 9), 4, 3, 3);
    EXPECT_TRUE(w.add_histogram("h", 1, {1, 2, 3, 4}));
    EXPECT_FALSE(w.add_histogram("empty", 1, {}));
    EXPECT_EQ(w.events(), 6);
    // Flushed after every event: the file is whole before the writer closes.
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), w.bytes());
  }
  const std::string name = fs::path(path).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(sub));
  const auto records = records_of(slurp(path));
  ASSERT_EQ(records.size(), 6u);
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
}

TEST(EventWriter, TwoWritersInOneFolderGetTwoFiles) {
  test::TempDir dir;
  EventWriter a(dir.path.string());
  EventWriter b(dir.path.string());
  EXPECT_NE(a.path(), b.path());
}

TEST(EventWriter, UnwritableFolderIsAnInputError) {
  test::TempDir dir;
  const fs::path file = dir.path / "plain";
  std::ofstream(file) << "x";
  EXPECT_THROW(EventWriter((file / "sub").string()), InputError);
}

TEST(EventWriter, HistogramCountsEveryFiniteValue) {
  const std::string e = event_proto::histogram("h", 3, {0, 1, 2, 3, NAN, INFINITY}, 1.0, 3);
  ASSERT_FALSE(e.empty());
  // Three buckets of one equal width: limits 1, 2, 3; counts 1, 1, 2 (3 lies in the last).
  std::string limits, counts;
  for (double x : {1.0, 2.0, 3.0}) limits += test::double_bits(x);
  for (double x : {1.0, 1.0, 2.0}) counts += test::double_bits(x);
  EXPECT_NE(e.find(test::len_field(6, limits)), std::string::npos);
  EXPECT_NE(e.find(test::len_field(7, counts)), std::string::npos);
  EXPECT_NE(e.find(test::key(3, 1) + test::double_bits(4.0)), std::string::npos);  // num
  EXPECT_TRUE(event_proto::histogram("h", 0, {NAN}, 1.0).empty());
}

}  // namespace
}  // namespace lossdoctor
