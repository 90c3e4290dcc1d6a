#include "lossdoctor/logs/tfrecord.hpp"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "lossdoctor/util/crc32c.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {

namespace {

uint64_t read_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// A cursor over one protobuf message.
class Wire {
 public:
  Wire(const uint8_t* begin, size_t size) : p_(begin), end_(begin + size) {}
  bool done() const { return p_ >= end_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) throw std::runtime_error("varint runs past the end of the message");
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw std::runtime_error("varint longer than 10 bytes");
  }
  uint64_t fixed(int bytes) {
    need(static_cast<size_t>(bytes));
    const uint64_t v = read_le(p_, bytes);
    p_ += bytes;
    return v;
  }
  Wire sub() {
    const uint64_t n = varint();
    need(n);
    Wire w(p_, static_cast<size_t>(n));
    p_ += n;
    return w;
  }
  std::string bytes() {
    Wire w = sub();
    return std::string(reinterpret_cast<const char*>(w.p_), static_cast<size_t>(w.end_ - w.p_));
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        return;
      case 1:
        fixed(8);
        return;
      case 2:
        sub();
        return;
      case 5:
        fixed(4);
        return;
      default:
        throw std::runtime_error(fmt::format("unsupported wire type {}", wire_type));
    }
  }
  const uint8_t* data() const { return p_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  void need(uint64_t n) const {
    if (n > static_cast<uint64_t>(end_ - p_))
      throw std::runtime_error("a field runs past the end of its message");
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

double as_float(uint64_t bits32) {
  const uint32_t b = static_cast<uint32_t>(bits32);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
double as_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

/// The scalar a TensorProto holds, if it holds exactly one float or double.
bool tensor_scalar(Wire w, double& out) {
  int64_t dtype = 0;
  std::vector<double> values;
  std::string content;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 0) {
      dtype = static_cast<int64_t>(w.varint());
    } else if (field == 4 && type == 2) {
      content = w.bytes();
    } else if (field == 5 && type == 2) {  // packed float_val
      Wire packed = w.sub();
      while (!packed.done()) values.push_back(as_float(packed.fixed(4)));
    } else if (field == 5 && type == 5) {
      values.push_back(as_float(w.fixed(4)));
    } else if (field == 6 && type == 2) {  // packed double_val
      Wire packed = w.sub();
      while (!packed.done()) values.push_back(as_double(packed.fixed(8)));
    } else if (field == 6 && type == 1) {
      values.push_back(as_double(w.fixed(8)));
    } else {
      w.skip(type);
    }
  }
  constexpr int64_t kFloat = 1, kDouble = 2;
  if (values.size() == 1) {
    out = values[0];
    return true;
  }
  if (values.empty() && dtype == kFloat && content.size() == 4) {
    out = as_float(read_le(reinterpret_cast<const uint8_t*>(content.data()), 4));
    return true;
  }
  if (values.empty() && dtype == kDouble && content.size() == 8) {
    out = as_double(read_le(reinterpret_cast<const uint8_t*>(content.data()), 8));
    return true;
  }
  return false;  // not a scalar (an image, a histogram, text): not ours
}

void decode_value(Wire w, int64_t step, std::vector<ScalarEvent>& out) {
  std::string tag;
  bool has = false;
  double value = 0;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 2) {
      tag = w.bytes();
    } else if (field == 2 && type == 5) {
      value = as_float(w.fixed(4));
      has = true;
    } else if (field == 8 && type == 2) {
      has = tensor_scalar(w.sub(), value) || has;
    } else {
      w.skip(type);
    }
  }
  if (has && !tag.empty()) out.push_back({tag, step, value});
}

std::string plugin_name(Wire metadata) {
  std::string name;
  while (!metadata.done()) {
    const uint64_t key = metadata.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 2) {  // plugin_data
      Wire pd = metadata.sub();
      while (!pd.done()) {
        const uint64_t k = pd.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) {
          name = pd.bytes();
        } else {
          pd.skip(k & 7);
        }
      }
    } else {
      metadata.skip(type);
    }
  }
  return name;
}

/// The first string_val of a DT_STRING tensor (false when the tensor is not one).
bool tensor_string(Wire w, std::string& out) {
  int64_t dtype = 0;
  bool has = false;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 0) {
      dtype = static_cast<int64_t>(w.varint());
    } else if (field == 8 && type == 2) {
      const std::string s = w.bytes();
      if (!has) out = s;
      has = true;
    } else {
      w.skip(type);
    }
  }
  constexpr int64_t kString = 7;
  return has && dtype == kString;
}

EventValue::Image decode_image(Wire w) {
  EventValue::Image img;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field >= 1 && field <= 3 && type == 0) {
      const auto v = static_cast<int64_t>(w.varint());
      (field == 1 ? img.height : field == 2 ? img.width : img.colorspace) = v;
    } else if (field == 4 && type == 2) {
      img.encoded = w.bytes();
    } else {
      w.skip(type);
    }
  }
  return img;
}

EventValue::Histogram decode_histogram(Wire w) {
  EventValue::Histogram h;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field >= 1 && field <= 5 && type == 1) {
      const double v = as_double(w.fixed(8));
      double* slot[] = {&h.min, &h.max, &h.num, &h.sum, &h.sum_squares};
      *slot[field - 1] = v;
    } else if ((field == 6 || field == 7) && (type == 2 || type == 1)) {
      std::vector<double>& list = field == 6 ? h.bucket_limit : h.bucket;
      if (type == 1) {
        list.push_back(as_double(w.fixed(8)));
      } else {
        Wire packed = w.sub();
        while (!packed.done()) list.push_back(as_double(packed.fixed(8)));
      }
    } else {
      w.skip(type);
    }
  }
  return h;
}

EventValue decode_full_value(Wire w) {
  EventValue v;
  std::optional<Wire> tensor;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 2) {
      v.tag = w.bytes();
    } else if (field == 2 && type == 5) {
      v.kind = EventValue::Kind::Scalar;
      v.value = as_float(w.fixed(4));
    } else if (field == 4 && type == 2) {
      v.kind = EventValue::Kind::Image;
      v.image = decode_image(w.sub());
    } else if (field == 5 && type == 2) {
      v.kind = EventValue::Kind::Histogram;
      v.histogram = decode_histogram(w.sub());
    } else if (field == 8 && type == 2) {
      tensor = w.sub();
    } else if (field == 9 && type == 2) {
      v.plugin = plugin_name(w.sub());
    } else {
      w.skip(type);
    }
  }
  if (tensor) {
    if (tensor_string(*tensor, v.text)) {
      v.kind = EventValue::Kind::Text;
    } else if (tensor_scalar(*tensor, v.value)) {
      v.kind = EventValue::Kind::Scalar;
    }
  }
  return v;
}

}  // namespace

EventRecord decode_event_record(const std::string& payload) {
  Wire w(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  EventRecord event;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 1 && type == 1) {
      event.wall_time = as_double(w.fixed(8));
    } else if (field == 2 && type == 0) {
      event.step = static_cast<int64_t>(w.varint());
    } else if (field == 3 && type == 2) {
      event.file_version = w.bytes();
    } else if (field == 5 && type == 2) {
      Wire s = w.sub();
      while (!s.done()) {
        const uint64_t k = s.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) {
          event.values.push_back(decode_full_value(s.sub()));
        } else {
          s.skip(k & 7);
        }
      }
    } else {
      w.skip(type);
    }
  }
  return event;
}

std::vector<EventRecord> read_events(const std::string& path) {
  const std::vector<std::string> records = read_tfrecords(path);
  std::vector<EventRecord> out;
  size_t pos = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    try {
      out.push_back(decode_event_record(records[i]));
    } catch (const std::runtime_error& e) {
      throw DataError(path, fmt::format("record {} at byte {}: malformed Event protobuf: {}", i + 1,
                                        pos, e.what()));
    }
    pos += records[i].size() + 16;
  }
  return out;
}

std::vector<std::string> read_tfrecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path, "cannot open the file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path, "cannot read the file");
  if (bytes.empty()) throw DataError(path, "empty file (no TFRecord in it)");
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t index = records.size() + 1;
    const size_t left = bytes.size() - pos;
    const auto where = [&](const std::string& what) {
      return DataError(path, fmt::format("record {} at byte {}: {}", index, pos, what));
    };
    if (left < 12) {
      throw where(fmt::format("truncated header ({} bytes left, a record header needs 12)", left));
    }
    const uint64_t length = read_le(data + pos, 8);
    const uint32_t length_crc = static_cast<uint32_t>(read_le(data + pos + 8, 4));
    if (masked_crc32c(data + pos, 8) != length_crc) {
      throw where(
          "length CRC mismatch (the record's length field is damaged; not a TFRecord file?)");
    }
    if (length > left - 12 || left - 12 - length < 4) {
      throw where(fmt::format(
          "truncated: the record says {} bytes of data (+4 CRC) but only {} bytes remain", length,
          left - 12));
    }
    const uint8_t* payload = data + pos + 12;
    const uint32_t data_crc = static_cast<uint32_t>(read_le(payload + length, 4));
    if (masked_crc32c(payload, static_cast<size_t>(length)) != data_crc) {
      throw where("data CRC mismatch (the record's data is damaged)");
    }
    records.emplace_back(reinterpret_cast<const char*>(payload), static_cast<size_t>(length));
    pos += 12 + static_cast<size_t>(length) + 4;
  }
  return records;
}

void decode_event(const std::string& payload, std::vector<ScalarEvent>& out) {
  Wire w(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  int64_t step = 0;
  std::vector<Wire> summaries;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
    if (field == 2 && type == 0) {
      step = static_cast<int64_t>(w.varint());
    } else if (field == 5 && type == 2) {
      summaries.push_back(w.sub());  // the step may follow the summary: decode after the loop
    } else {
      w.skip(type);
    }
  }
  for (Wire s : summaries) {
    while (!s.done()) {
      const uint64_t key = s.varint();
      const uint32_t field = static_cast<uint32_t>(key >> 3), type = key & 7;
      if (field == 1 && type == 2) {
        decode_value(s.sub(), step, out);
      } else {
        s.skip(type);
      }
    }
  }
}

std::vector<ScalarEvent> read_event_scalars(const std::string& path) {
  const std::vector<std::string> records = read_tfrecords(path);
  std::vector<ScalarEvent> out;
  size_t pos = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    try {
      decode_event(records[i], out);
    } catch (const std::runtime_error& e) {
      throw DataError(path, fmt::format("record {} at byte {}: malformed Event protobuf: {}", i + 1,
                                        pos, e.what()));
    }
    pos += records[i].size() + 16;
  }
  return out;
}

}  // namespace lossdoctor::logs
