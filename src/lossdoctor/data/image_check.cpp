#include "lossdoctor/data/image_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace lossdoctor::data::detail {
namespace {

using Bytes = std::vector<uint8_t>;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

/// The decoder allocates what the header declares before it reads a pixel: a crafted 52-byte BMP
/// declaring 40 million × 1 pixels made OpenCV ask for gigabytes (fuzz/folder_fuzz). No image
/// this tool trains on needs more than kMaxImageSide a side or kMaxImagePixels in all.
constexpr uint64_t kMaxImageSide = 16384;
constexpr uint64_t kMaxImagePixels = uint64_t{1} << 26;

std::string too_large(const char* format, uint64_t width, uint64_t height) {
  if (width <= kMaxImageSide && height <= kMaxImageSide && width * height <= kMaxImagePixels) {
    return "";
  }
  return fmt::format(
      "{} image too large: its header declares {}×{} pixels (at most {} a side and {} pixels)",
      format, width, height, kMaxImageSide, kMaxImagePixels);
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

/// The last two bytes before any trailing zero or whitespace padding are FF D9 (the fallback when
/// the segment walk below meets something it does not understand).
bool ends_with_eoi(const Bytes& b) {
  size_t end = b.size();
  while (end > 0 && (b[end - 1] == 0 || b[end - 1] == ' ' || b[end - 1] == '\t' ||
                     b[end - 1] == '\r' || b[end - 1] == '\n')) {
    --end;
  }
  return end >= 4 && b[end - 2] == 0xFF && b[end - 1] == 0xD9;
}

/// Walks the JPEG's marker segments (by their lengths) and its entropy-coded scans (where FF is
/// always followed by 00 or a restart marker) up to the end-of-image marker. A walk rather than a
/// look at the last bytes: some cameras append data after FF D9, and an embedded EXIF thumbnail
/// has an FF D9 of its own inside the APP1 segment.
std::string check_jpeg(const Bytes& b) {
  const size_t n = b.size();
  const auto missing = [n](const std::string& where) {
    return fmt::format("truncated JPEG: no end-of-image marker (the file ends after {} bytes, {})",
                       n, where);
  };
  size_t i = 2;  // after SOI (FF D8)
  bool in_scan = false;
  while (i < n) {
    if (in_scan) {
      i = static_cast<size_t>(std::find(b.begin() + static_cast<std::ptrdiff_t>(i), b.end(), 0xFF) -
                              b.begin());
      if (i + 1 >= n) break;
      const uint8_t m = b[i + 1];
      if (m == 0x00 || (m >= 0xD0 && m <= 0xD7)) {  // stuffed FF or restart marker
        i += 2;
        continue;
      }
      if (m == 0xFF) {  // fill byte before a marker
        ++i;
        continue;
      }
      in_scan = false;  // a marker: parsed below
    }
    if (b[i] != 0xFF) return ends_with_eoi(b) ? "" : missing("in a damaged segment");
    while (i + 1 < n && b[i + 1] == 0xFF) ++i;  // fill bytes
    if (i + 1 >= n) break;
    const uint8_t m = b[i + 1];
    if (m == 0xD9) return "";                     // EOI
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // markers without a length
      i += 2;
      continue;
    }
    if (i + 3 >= n) break;
    const size_t len = (size_t{b[i + 2]} << 8) | b[i + 3];
    // A start-of-frame segment (C0–CF but DHT C4, JPG C8, DAC CC) declares the image's size.
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && i + 8 < n) {
      const std::string big = too_large("JPEG", be16(b.data() + i + 7), be16(b.data() + i + 5));
      if (!big.empty()) return big;
    }
    if (len < 2) return ends_with_eoi(b) ? "" : missing("in a damaged segment");
    i += 2 + len;
    if (i > n) return missing(fmt::format("inside a 0x{:02X} marker segment", m));
    in_scan = m == 0xDA;  // SOS: the compressed data follows its header
  }
  return missing(in_scan ? "inside the compressed image data" : "between marker segments");
}

/// Walks the PNG's chunks (length, type, data, CRC) up to IEND.
std::string check_png(const Bytes& b) {
  const size_t n = b.size();
  if (n >= 24) {  // IHDR, always the first chunk: width and height
    const std::string big = too_large("PNG", be32(b.data() + 16), be32(b.data() + 20));
    if (!big.empty()) return big;
  }
  size_t i = 8;  // after the signature
  std::string last = "the signature";
  while (i + 8 <= n) {
    const uint64_t len = be32(b.data() + i);
    const std::string type(reinterpret_cast<const char*>(b.data() + i + 4), 4);
    if (type == "IEND") return i + 12 <= n ? "" : "truncated PNG: the IEND chunk is cut off";
    last = "chunk '" + type + "'";
    if (len > (uint64_t{1} << 31)) break;  // not a chunk length: the data is damaged
    i += 12 + static_cast<size_t>(len);
  }
  return fmt::format("truncated PNG: no IEND chunk (the file ends after {} bytes, after {})", n,
                     last);
}

/// A BMP holds at least the size its file header declares and, uncompressed, every pixel row.
std::string check_bmp(const Bytes& b) {
  const uint64_t n = b.size();
  if (n < 14) return fmt::format("truncated BMP: {} bytes, shorter than its 14-byte header", n);
  const uint64_t declared = le32(b.data() + 2);
  if (declared > n) {
    return fmt::format("truncated BMP: the header declares {} bytes, the file has {}", declared, n);
  }
  if (n >= 18) {
    const uint64_t info = le32(b.data() + 14);  // the info header's size: 12 (core) or ≥ 40
    if (n < 14 + std::max<uint64_t>(info, 12)) {
      return fmt::format("truncated BMP: {} bytes, shorter than its {}-byte headers", n,
                         14 + std::max<uint64_t>(info, 12));
    }
    const uint64_t width =
        info >= 40 ? static_cast<uint32_t>(
                         std::abs(static_cast<int64_t>(static_cast<int32_t>(le32(b.data() + 18)))))
                   : le16(b.data() + 18);
    const uint64_t height =
        info >= 40 ? static_cast<uint32_t>(
                         std::abs(static_cast<int64_t>(static_cast<int32_t>(le32(b.data() + 22)))))
                   : le16(b.data() + 20);
    const std::string big = too_large("BMP", width, height);
    if (!big.empty()) return big;
  }
  if (n >= 54 && le32(b.data() + 14) >= 40) {  // BITMAPINFOHEADER or later
    const uint64_t offset = le32(b.data() + 10);
    const auto width = static_cast<int32_t>(le32(b.data() + 18));
    const auto height = static_cast<int32_t>(le32(b.data() + 22));
    const uint16_t bits = le16(b.data() + 28);
    const uint32_t compression = le32(b.data() + 30);  // 0 BI_RGB, 3 BI_BITFIELDS: raw rows
    if ((compression == 0 || compression == 3) && width > 0 && bits > 0 && bits <= 32) {
      const uint64_t stride = (uint64_t{bits} * static_cast<uint64_t>(width) + 31) / 32 * 4;
      const uint64_t rows = height < 0 ? -int64_t{height} : height;
      const uint64_t needed = offset + stride * rows;
      if (needed > n) {
        return fmt::format("truncated BMP: its {} pixel rows need {} bytes, the file has {}", rows,
                           needed, n);
      }
    }
  }
  return "";
}

}  // namespace

std::string image_truncation(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  const Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return check_jpeg(b);
  if (b.size() >= 8 && std::memcmp(b.data(), kPng, 8) == 0) return check_png(b);
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return check_bmp(b);
  // Anything else never reaches OpenCV: Debian's build would try GDAL and GDCM on it, and GDCM
  // aborts the process on some inputs (an assert; found by fuzz/folder_fuzz).
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(4, b.size()); ++i) {
    head += fmt::format("{}{:02x}", i ? " " : "", b[i]);
  }
  return b.empty() ? "cannot decode image: the file is empty"
                   : fmt::format(
                         "cannot decode image: not a JPEG, PNG or BMP file (it starts with "
                         "{})",
                         head);
}

}  // namespace lossdoctor::data::detail
