#include "lossdoctor/util/event_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "lossdoctor/util/crc32c.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor {

namespace {

namespace fs = std::filesystem;

// Protobuf wire format: varint (0), fixed64 (1), length-delimited (2), fixed32 (5).
void put_varint(std::string& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out += static_cast<char>(b);
  } while (v);
}
void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}
void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_int(std::string& out, int field, int64_t v) {
  put_key(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));
}
uint64_t double_bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
void put_double(std::string& out, int field, double d) {
  put_key(out, field, 1);
  put_le(out, double_bits(d), 8);
}
void put_float(std::string& out, int field, float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  put_key(out, field, 5);
  put_le(out, b, 4);
}
void put_packed_doubles(std::string& out, int field, const std::vector<double>& values) {
  std::string packed;
  for (double v : values) put_le(packed, double_bits(v), 8);
  put_bytes(out, field, packed);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Event{wall_time, step, summary{value}} around one serialized Summary.Value.
std::string summary_event(const std::string& value, int64_t step, double wall_time) {
  std::string summary;
  put_bytes(summary, 1, value);
  std::string event;
  put_double(event, 1, std::isnan(wall_time) ? now_seconds() : wall_time);
  put_int(event, 2, step);
  put_bytes(event, 5, summary);
  return event;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h(buf);
  std::replace(h.begin(), h.end(), '/', '_');
  return h;
}

std::string fmt_error(const std::string& path, const std::string& why) {
  return path + ": cannot write the TensorBoard event file: " + why;
}

}  // namespace

std::string tfrecord_frame(const std::string& payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  put_le(out, payload.size(), 8);
  put_le(out, masked_crc32c(reinterpret_cast<const uint8_t*>(out.data()), 8), 4);
  out += payload;
  put_le(out, masked_crc32c(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()), 4);
  return out;
}

namespace event_proto {

std::string file_version(double wall_time) {
  std::string event;
  put_double(event, 1, std::isnan(wall_time) ? now_seconds() : wall_time);
  put_bytes(event, 3, "brain.Event:2");
  return event;
}

std::string scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  std::string v;
  put_bytes(v, 1, tag);
  put_float(v, 2, static_cast<float>(value));
  return summary_event(v, step, wall_time);
}

std::string text(const std::string& tag, int64_t step, const std::string& text, double wall_time) {
  std::string plugin_data;
  put_bytes(plugin_data, 1, "text");
  std::string metadata;
  put_bytes(metadata, 1, plugin_data);
  std::string tensor;
  put_int(tensor, 1, 7);     // dtype DT_STRING
  put_bytes(tensor, 2, "");  // tensor_shape: a scalar
  put_bytes(tensor, 8, text);
  std::string v;
  put_bytes(v, 1, tag);
  put_bytes(v, 8, tensor);
  put_bytes(v, 9, metadata);
  return summary_event(v, step, wall_time);
}

std::string image(const std::string& tag, int64_t step, const std::string& encoded, int width,
                  int height, int channels, double wall_time) {
  std::string img;
  put_int(img, 1, height);
  put_int(img, 2, width);
  put_int(img, 3, channels);
  put_bytes(img, 4, encoded);
  std::string v;
  put_bytes(v, 1, tag);
  put_bytes(v, 4, img);
  return summary_event(v, step, wall_time);
}

std::string histogram(const std::string& tag, int64_t step, const std::vector<double>& values,
                      double wall_time, int buckets) {
  std::vector<double> finite;
  finite.reserve(values.size());
  for (double x : values)
    if (std::isfinite(x)) finite.push_back(x);
  if (finite.empty()) return "";
  const auto [lo_it, hi_it] = std::minmax_element(finite.begin(), finite.end());
  const double lo = *lo_it, hi = *hi_it;
  double sum = 0, sum_sq = 0;
  for (double x : finite) sum += x, sum_sq += x * x;
  const int n = hi > lo ? std::max(1, buckets) : 1;
  std::vector<double> limits(static_cast<size_t>(n)), counts(static_cast<size_t>(n), 0.0);
  const double width = (hi - lo) / n;
  for (int i = 0; i < n; ++i)
    limits[static_cast<size_t>(i)] = i + 1 == n ? hi : lo + width * (i + 1);
  for (double x : finite) {
    int i = n == 1 ? 0 : static_cast<int>((x - lo) / width);
    i = std::clamp(i, 0, n - 1);
    counts[static_cast<size_t>(i)] += 1;
  }
  std::string h;
  put_double(h, 1, lo);
  put_double(h, 2, hi);
  put_double(h, 3, static_cast<double>(finite.size()));
  put_double(h, 4, sum);
  put_double(h, 5, sum_sq);
  put_packed_doubles(h, 6, limits);
  put_packed_doubles(h, 7, counts);
  std::string v;
  put_bytes(v, 1, tag);
  put_bytes(v, 5, h);
  return summary_event(v, step, wall_time);
}

}  // namespace event_proto

EventWriter::EventWriter(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InputError(fmt_error(dir, ec ? ec.message() : "not a folder"));
  }
  const auto seconds = static_cast<int64_t>(now_seconds());
  const std::string base =
      (fs::path(dir) / ("events.out.tfevents." + std::to_string(seconds) + "." + hostname()))
          .string();
  for (int n = 0; n < 1000 && file_ == nullptr; ++n) {
    const std::string candidate = n == 0 ? base : base + "." + std::to_string(n);
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      throw InputError(fmt_error(candidate, std::strerror(errno)));
    }
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      ::close(fd);
      throw InputError(fmt_error(candidate, std::strerror(errno)));
    }
    path_ = candidate;
  }
  if (file_ == nullptr) throw InputError(fmt_error(base, "every file name is taken"));
  write_event(event_proto::file_version(kNow));
}

EventWriter::~EventWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventWriter::write_event(const std::string& payload) {
  const std::string record = tfrecord_frame(payload);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    throw InputError(fmt_error(path_, std::strerror(errno)));
  }
  ++events_;
  bytes_ += static_cast<int64_t>(record.size());
}

void EventWriter::add_scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  write_event(event_proto::scalar(tag, step, value, wall_time));
}

void EventWriter::add_text(const std::string& tag, int64_t step, const std::string& text,
                           double wall_time) {
  write_event(event_proto::text(tag, step, text, wall_time));
}

void EventWriter::add_image(const std::string& tag, int64_t step, const std::string& encoded,
                            int width, int height, int channels, double wall_time) {
  write_event(event_proto::image(tag, step, encoded, width, height, channels, wall_time));
}

bool EventWriter::add_histogram(const std::string& tag, int64_t step,
                                const std::vector<double>& values, double wall_time) {
  const std::string event = event_proto::histogram(tag, step, values, wall_time);
  if (event.empty()) return false;
  write_event(event);
  return true;
}

}  // namespace lossdoctor
