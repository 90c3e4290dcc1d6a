#pragma once
// TensorBoard event files (events.out.tfevents.*): TFRecord framing and the few protobuf
// messages that carry scalars. No protobuf library: a minimal wire-format decoder.
//
// TFRecord: uint64 length (little endian), uint32 masked CRC32C of those 8 bytes, `length` bytes
// of data, uint32 masked CRC32C of the data (util/crc32c.hpp).
// Event {double wall_time = 1; int64 step = 2; Summary summary = 5; ...}
// Summary {repeated Value value = 1}
// Value {string tag = 1; float simple_value = 2; TensorProto tensor = 8; ...}
// TensorProto {DataType dtype = 1; bytes tensor_content = 4; repeated float float_val = 5;
//              repeated double double_val = 6; ...} — a scalar float (TF2 writers) or double.
// Unknown fields are skipped by wire type (varint, fixed64, length-delimited, fixed32).
//
// Contract:
//   requires: nothing (any bytes).
//   ensures:  every record's length CRC and data CRC are checked; records are counted from 1.
//   throws:   DataError "PATH: empty file", "PATH: record N at byte B: <what>" (truncated
//             header, length CRC mismatch, truncated data, data CRC mismatch, malformed Event).

#include <cstdint>
#include <string>
#include <vector>

namespace lossdoctor::logs {

/// One scalar of one Event.
struct ScalarEvent {
  std::string tag;
  int64_t step = 0;
  double value = 0;
};

/// One Summary.Value of any kind (what read_events returns; diagnose-log reads scalars only).
struct EventValue {
  enum class Kind { Scalar, Text, Image, Histogram, Other };
  std::string tag;
  Kind kind = Kind::Other;
  double value = 0;    ///< Scalar
  std::string text;    ///< Text: the first string_val of a DT_STRING tensor
  std::string plugin;  ///< metadata.plugin_data.plugin_name ("" when absent)
  struct Image {
    int64_t width = 0, height = 0, colorspace = 0;
    std::string encoded;  ///< PNG/JPEG bytes
  } image;
  struct Histogram {
    double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
    std::vector<double> bucket_limit, bucket;
  } histogram;
};

/// One Event, decoded whole.
struct EventRecord {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  ///< set on the first record of a file ("brain.Event:2")
  std::vector<EventValue> values;
};

/// Decodes one serialized Event (scalars, text, images, histograms); throws std::runtime_error
/// with what is malformed.
EventRecord decode_event_record(const std::string& payload);

/// Every Event of an event file, CRCs checked, in file order (DataError naming the record).
std::vector<EventRecord> read_events(const std::string& path);

/// The payloads of every record of the TFRecord file at `path`, both CRCs checked.
std::vector<std::string> read_tfrecords(const std::string& path);

/// Appends the scalars of one serialized Event to `out`; throws std::runtime_error with what is
/// malformed (read_event_scalars adds the file and record).
void decode_event(const std::string& payload, std::vector<ScalarEvent>& out);

/// Every scalar of an event file, in file order.
std::vector<ScalarEvent> read_event_scalars(const std::string& path);

}  // namespace lossdoctor::logs
