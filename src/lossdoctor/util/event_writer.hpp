#pragma once
// TensorBoard event files written without TensorFlow or a protobuf library: TFRecord framing
// (uint64 length, masked CRC32C of the length, data, masked CRC32C of the data; crc32c.hpp) of
// hand-encoded `Event` protobufs, with TensorFlow's public field numbers:
//   Event {double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5}
//   Summary {repeated Value value = 1}
//   Value {string tag = 1; float simple_value = 2; Image image = 4; HistogramProto histo = 5;
//          TensorProto tensor = 8; SummaryMetadata metadata = 9}
//   Image {int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4}
//   HistogramProto {double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5;
//                   repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]}
//   TensorProto {DataType dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val =
//   8} SummaryMetadata {PluginData plugin_data = 1}, PluginData {string plugin_name = 1}
// Text follows TensorBoard's text plugin (a DT_STRING = 7 scalar tensor, plugin "text").
// No torch.
//
// Contract:
//   EventWriter(dir):
//     requires: `dir` is a folder or can be created (its parents too).
//     ensures:  creates DIR/events.out.tfevents.<unix seconds>.<hostname> (".N" appended when
//               that name is taken, never overwriting a file) and writes the file-version event
//               "brain.Event:2" as its first record. Every add_* call writes one whole record and
//               flushes it to the operating system, so a crash loses at most the event being
//               written and never leaves a reader a torn record before the last one.
//     throws:   InputError "PATH: reason" when the folder or file cannot be created or written.
//   add_*: `step` is the x-axis (TensorBoard's step); wall_time NaN (the default) means now.
//   add_histogram: non-finite values are left out; an empty (or all non-finite) list writes
//     nothing and returns false.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace lossdoctor {

/// One TFRecord: length, masked CRC32C of the length, `payload`, masked CRC32C of the payload.
std::string tfrecord_frame(const std::string& payload);

/// Serialized Event protobufs (pure; what EventWriter frames and writes).
namespace event_proto {
std::string file_version(double wall_time);
std::string scalar(const std::string& tag, int64_t step, double value, double wall_time);
std::string text(const std::string& tag, int64_t step, const std::string& text, double wall_time);
std::string image(const std::string& tag, int64_t step, const std::string& encoded, int width,
                  int height, int channels, double wall_time);
/// A histogram of the finite `values` in up to `buckets` equal-width buckets ("" when none).
std::string histogram(const std::string& tag, int64_t step, const std::vector<double>& values,
                      double wall_time, int buckets = 30);
}  // namespace event_proto

/// Appends events to one TensorBoard event file.
class EventWriter {
 public:
  static constexpr double kNow = std::numeric_limits<double>::quiet_NaN();

  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  /// A scalar (TF1 simple_value, as PyTorch's SummaryWriter writes it).
  void add_scalar(const std::string& tag, int64_t step, double value, double wall_time = kNow);
  /// Text for TensorBoard's text plugin (rendered as Markdown).
  void add_text(const std::string& tag, int64_t step, const std::string& text,
                double wall_time = kNow);
  /// An encoded image (PNG or JPEG bytes) of `width`×`height` pixels with `channels` channels.
  void add_image(const std::string& tag, int64_t step, const std::string& encoded, int width,
                 int height, int channels, double wall_time = kNow);
  /// A histogram of `values` (see the contract); returns whether an event was written.
  bool add_histogram(const std::string& tag, int64_t step, const std::vector<double>& values,
                     double wall_time = kNow);

  /// The event file's path.
  const std::string& path() const { return path_; }
  /// Events written so far, the file-version event included.
  int64_t events() const { return events_; }
  /// Bytes written so far.
  int64_t bytes() const { return bytes_; }

 private:
  void write_event(const std::string& payload);

  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t events_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace lossdoctor
