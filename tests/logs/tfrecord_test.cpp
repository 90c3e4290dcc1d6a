#include "lossdoctor/logs/tfrecord.hpp"

#include <gtest/gtest.h>

#include "log_fixtures.hpp"
#include "lossdoctor/logs/read_log.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {
namespace {

using test::TempDir;

std::string events_file(const std::vector<std::string>& events) {
  std::string bytes = test::tfrecord(test::file_version_event());
  for (const auto& e : events) bytes += test::tfrecord(e);
  return bytes;
}

std::string error_of(const std::string& path) {
  try {
    read_event_scalars(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(TfRecord, ReadsTf1SimpleValuesAndTf2Tensors) {
  TempDir dir;
  const std::string path =
      dir.write("events.out.tfevents.1.host",
                events_file({test::tf1_scalar_event("loss", 0, 2.25f),
                             test::tf1_scalar_event("loss", 1, 2.0f),
                             test::tf2_scalar_event("val_loss", 1, 1.5f, /*tensor_content=*/false),
                             test::tf2_scalar_event("lr", 1, 0.01f, /*tensor_content=*/true)}));
  const auto s = read_event_scalars(path);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].tag, "loss");
  EXPECT_EQ(s[0].step, 0);
  EXPECT_FLOAT_EQ(s[0].value, 2.25f);
  EXPECT_EQ(s[1].step, 1);
  EXPECT_EQ(s[2].tag, "val_loss");
  EXPECT_FLOAT_EQ(s[2].value, 1.5f);
  EXPECT_EQ(s[3].tag, "lr");
  EXPECT_FLOAT_EQ(s[3].value, 0.01f);
}

TEST(TfRecord, EveryRecordsCrcsAreChecked) {
  TempDir dir;
  const std::string good = events_file({test::tf1_scalar_event("loss", 0, 2.0f)});
  EXPECT_EQ(read_tfrecords(dir.write("events.out.tfevents.ok", good)).size(), 2u);

  std::string bad_data = good;
  bad_data[bad_data.size() - 6] ^= 0x01;  // a byte of the second record's data
  const std::string e1 = error_of(dir.write("events.out.tfevents.data", bad_data));
  const size_t second = test::tfrecord(test::file_version_event()).size();
  EXPECT_NE(e1.find("record 2 at byte " + std::to_string(second) + ": data CRC mismatch"),
            std::string::npos)
      << e1;

  std::string bad_length = good;
  bad_length[second + 9] ^= 0x40;  // the second record's length CRC
  const std::string e2 = error_of(dir.write("events.out.tfevents.len", bad_length));
  EXPECT_NE(e2.find("record 2 at byte " + std::to_string(second) + ": length CRC mismatch"),
            std::string::npos)
      << e2;
}

TEST(TfRecord, TruncatedAndEmptyFilesNameTheRecord) {
  TempDir dir;
  const std::string good = events_file({test::tf1_scalar_event("loss", 0, 2.0f)});
  const std::string cut =
      error_of(dir.write("events.out.tfevents.cut", good.substr(0, good.size() - 7)));
  EXPECT_NE(cut.find("record 2"), std::string::npos) << cut;
  EXPECT_NE(cut.find("truncated"), std::string::npos) << cut;

  const std::string head = error_of(dir.write("events.out.tfevents.head", good + "abc"));
  EXPECT_NE(head.find("record 3"), std::string::npos) << head;
  EXPECT_NE(head.find("truncated header"), std::string::npos) << head;

  const std::string empty = error_of(dir.write("events.out.tfevents.empty", ""));
  EXPECT_NE(empty.find("empty file"), std::string::npos) << empty;
}

TEST(TfRecord, MalformedProtobufIsADataErrorNamingTheRecord) {
  TempDir dir;
  // A length-delimited field whose length runs past the message, with valid CRCs.
  const std::string broken = test::key(5, 2) + test::varint(50) + "xy";
  const std::string e = error_of(dir.write("events.out.tfevents.pb", events_file({broken})));
  EXPECT_NE(e.find("record 2"), std::string::npos) << e;
  EXPECT_NE(e.find("malformed Event"), std::string::npos) << e;
}

TEST(TfRecord, ANonScalarValueIsSkipped) {
  std::vector<ScalarEvent> out;
  // Value{tag = "img", image = 4 {...}}: no scalar.
  const std::string v = test::len_field(1, "img") + test::len_field(4, "\x08\x01");
  decode_event(test::key(2, 0) + test::varint(3) + test::len_field(5, test::len_field(1, v)), out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace lossdoctor::logs
