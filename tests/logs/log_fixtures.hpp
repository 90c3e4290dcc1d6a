#pragma once
// Fixtures the log tests write themselves: a temp folder, text files, and TensorBoard event
// files built here with an independent (bitwise) CRC32C and a hand-written protobuf encoder.

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lossdoctor::test {

/// A fresh folder removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("lossdoctor_logs_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
};

/// CRC32C bit by bit (no table): independent of the implementation under test.
inline uint32_t bitwise_crc32c(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
inline uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

inline std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

/// One TFRecord: length, masked CRC of the length, data, masked CRC of the data.
inline std::string tfrecord(const std::string& data) {
  const std::string len = le(data.size(), 8);
  return len + le(masked(bitwise_crc32c(len)), 4) + data + le(masked(bitwise_crc32c(data)), 4);
}

// Protobuf wire format, by hand.
inline std::string varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out += static_cast<char>(b);
  } while (v);
  return out;
}
inline std::string key(int field, int wire_type) { return varint((field << 3) | wire_type); }
inline std::string len_field(int field, const std::string& bytes) {
  return key(field, 2) + varint(bytes.size()) + bytes;
}
inline std::string float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return le(b, 4);
}
inline std::string double_bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return le(b, 8);
}

/// Event{wall_time, step, summary{value{tag, simple_value}}} as TF1 writers (and PyTorch's
/// SummaryWriter) write it, with an unknown field in front to be skipped.
inline std::string tf1_scalar_event(const std::string& tag, int64_t step, float value) {
  const std::string v = len_field(1, tag) + key(2, 5) + float_bits(value);
  const std::string summary = len_field(1, v);
  return key(1, 1) + double_bits(1.7e9 + static_cast<double>(step)) + key(2, 0) + varint(step) +
         key(7, 0) + varint(123) + len_field(5, summary);
}

/// TF2 writers: Value{tag, metadata = 9, tensor = 8 {dtype = 1 (DT_FLOAT), shape = 2, value}},
/// the float either packed in float_val (5) or raw in tensor_content (4).
inline std::string tf2_scalar_event(const std::string& tag, int64_t step, float value,
                                    bool tensor_content) {
  const std::string plugin = len_field(1, len_field(1, "scalars"));
  const std::string tensor =
      key(1, 0) + varint(1) + len_field(2, "") +
      (tensor_content ? len_field(4, float_bits(value)) : len_field(5, float_bits(value)));
  const std::string v = len_field(1, tag) + len_field(9, plugin) + len_field(8, tensor);
  return key(1, 1) + double_bits(1.7e9) + key(2, 0) + varint(step) + len_field(5, len_field(1, v));
}

/// The first record of every event file: Event{wall_time, file_version = 3}.
inline std::string file_version_event() {
  return key(1, 1) + double_bits(1.7e9) + len_field(3, "brain.Event:2");
}

}  // namespace lossdoctor::test
