#include "lossdoctor/data/readers.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "lossdoctor/data/image_check.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/memory.hpp"

namespace fs = std::filesystem;

namespace lossdoctor::data::detail {
namespace {

constexpr uint32_t kIdxImageMagic = 0x00000803;
constexpr uint32_t kIdxLabelMagic = 0x00000801;
constexpr int64_t kMaxRecords = 100'000'000;
constexpr int64_t kMaxSide = 65536;
constexpr int64_t kCifarPixels = 3 * 32 * 32;
constexpr int64_t kCifarRecord = 1 + kCifarPixels;

void require_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw DataError(path, "file not found");
  if (fs::is_directory(status)) throw DataError(path, "is a directory, expected a file");
}

/// A gzip or raw file read through zlib (gzread passes non-gzip data through unchanged).
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    require_file(path);
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      throw DataError(path, fmt::format("cannot open: {}", std::strerror(errno)));
    }
    gzbuffer(file_, 1 << 20);
  }
  ~GzFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  /// Reads up to n bytes into dst; returns the number read (less than n only at end of file).
  /// Damaged gzip data (zlib's Z_DATA_ERROR: a CRC-32 or length mismatch in the trailer, or
  /// compressed data that cannot be inflated) throws.
  size_t read(uint8_t* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(file_, dst + done, chunk);
      if (got < 0) throw_read_error();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  /// True when the file is a gzip stream (false for raw data, which zlib passes through).
  bool compressed() { return gzdirect(file_) == 0; }

  /// True when a gzip stream ended before its end (zlib's "unexpected end of file"): the data or
  /// the CRC/length trailer is cut off. Meaningful once a read came back short.
  bool cut_short() {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    return errnum == Z_BUF_ERROR;
  }

  /// Reads and discards the rest of the file; returns how many bytes it held, or stops once
  /// past `limit` (a gzip bomb's trailing data is an error however long; no need to inflate it
  /// all). Reading to the end is what makes zlib check the gzip trailer (CRC-32 and length of
  /// the whole stream): a reader that stops at the header's byte count takes a damaged file as
  /// good.
  uint64_t skip_rest(uint64_t limit) {
    std::vector<uint8_t> sink(size_t{1} << 16);
    uint64_t extra = 0;
    for (size_t r; extra <= limit && (r = read(sink.data(), sink.size())) > 0;) extra += r;
    return extra;
  }

  /// Reads exactly n bytes, growing the buffer as data arrives (no huge allocation for a file
  /// whose header promises more than it holds). Returns the bytes actually read.
  std::vector<uint8_t> read_up_to(size_t n) {
    std::vector<uint8_t> buf;
    constexpr size_t kChunk = size_t{64} << 20;
    size_t got = 0;
    while (got < n) {
      const size_t want = std::min(n - got, std::max(kChunk, got));  // doubles, at least 64 MiB
      buf.resize(got + want);
      const size_t r = read(buf.data() + got, want);
      got += r;
      if (r < want) break;
    }
    buf.resize(got);
    return buf;
  }

  /// Reads the rest of the file, or stops once more than `limit` bytes arrived (the result is
  /// then longer than `limit`: a gzip bomb is not inflated to its end).
  std::vector<uint8_t> read_all(size_t limit) {
    std::vector<uint8_t> buf;
    size_t got = 0;
    size_t want = std::min(size_t{1} << 20, limit + 1);
    for (;;) {
      buf.resize(got + want);
      const size_t r = read(buf.data() + got, want);
      got += r;
      if (r < want || got > limit) break;
      want = std::min({got, size_t{256} << 20, limit + 1 - got});
    }
    buf.resize(got);
    return buf;
  }

 private:
  [[noreturn]] void throw_read_error() {
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    std::string what = msg != nullptr && *msg != '\0' ? msg : "unknown error";
    if (what.rfind(path_ + ": ", 0) == 0) what.erase(0, path_.size() + 2);  // zlib adds the path
    if (errnum == Z_DATA_ERROR) {
      // zlib's words for a trailer mismatch: "incorrect data check" / "incorrect length check".
      const char* why = what.find("data check") != std::string::npos     ? "CRC check failed"
                        : what.find("length check") != std::string::npos ? "length check failed"
                                                                         : "cannot be decompressed";
      throw DataError(path_, fmt::format("gzip data is damaged ({}: zlib says '{}'); the file is "
                                         "corrupt, fetch it again",
                                         why, what));
    }
    throw DataError(path_, fmt::format("read error: {}", what));
  }

  std::string path_;
  gzFile file_ = nullptr;
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string record_path(const std::string& path, int64_t record) {
  return fmt::format("{} (record {})", path, record);
}

/// Where a file that ended after `got` bytes of `per`-byte records stops, e.g. ": the file ends at
/// image 3 of 4 (3 complete)", plus whether a gzip stream was cut short.
std::string where_it_ends(GzFile& file, size_t got, size_t per, int64_t n, const char* noun) {
  return fmt::format(": the file ends at {} {} of {} ({} complete){}", noun, got / per, n,
                     got / per, file.cut_short() ? "; the gzip stream is cut short" : "");
}

/// After the `records` a header declares: nothing may follow, and a gzip stream must end with an
/// intact trailer. Reading on to the end is what makes zlib check the trailer's CRC-32 and length.
void expect_end(GzFile& file, const std::string& path, int64_t records) {
  constexpr uint64_t kCounted = uint64_t{64} << 20;  // beyond: "more than"
  const uint64_t extra = file.skip_rest(kCounted);
  if (extra > 0) {
    throw DataError(path, fmt::format("{}{} trailing bytes after the {} records the header "
                                      "declares (a wrong count in the header, or files joined "
                                      "together?)",
                                      extra > kCounted ? "more than " : "",
                                      std::min(extra, kCounted), records));
  }
  if (file.cut_short()) {
    throw DataError(path, fmt::format("truncated gzip: all {} records are there but the stream "
                                      "ends before its CRC/length trailer, so nothing confirms "
                                      "the data is intact; fetch the file again",
                                      records));
  }
}

/// Bytes of 8-bit pixels held at once while a split is read: the raw bytes (and, for CIFAR, the
/// file's records besides) plus their float32 copy.
constexpr double kReadCopies = 1 + 4;
constexpr double kCifarReadCopies = 1 + 1 + 4;

/// Refuses `pixel_bytes` of 8-bit data whose reading would not fit in the memory this process
/// may use (exit 2 with the numbers), before any of it is read.
/// `memory` says what bounds the memory, measured before the reading began (a CIFAR batch is
/// refused once its buffer has grown, which the address space then counts).
void check_fits(const std::string& path, const std::string& what, double pixel_bytes,
                double copies = kReadCopies, const std::string& memory = "",
                const char* hint = "a wrong header, or a gzip bomb?") {
  if (memory.empty() && fits_in_usable_memory(copies * pixel_bytes)) return;
  throw DataError(path,
                  fmt::format("{}: {} of pixels, {} while they are read and converted to "
                              "float32; {} ({})",
                              what, format_bytes(pixel_bytes), format_bytes(copies * pixel_bytes),
                              memory.empty() ? usable_memory_text() : memory, hint));
}

/// Header of an IDX file: magic then `ndims` big-endian uint32 dimensions.
std::vector<int64_t> read_idx_header(GzFile& file, const std::string& path, uint32_t magic,
                                     size_t ndims, const char* what) {
  std::vector<uint8_t> header(4 * (1 + ndims));
  const size_t got = file.read(header.data(), header.size());
  if (got < 4) {
    throw DataError(
        path, fmt::format("truncated: expected {} bytes of header, got {}", header.size(), got));
  }
  const uint32_t found = be32(header.data());
  if (found != magic) {
    throw DataError(path, fmt::format("wrong magic 0x{:08x} (expected 0x{:08x}, an IDX {} file)",
                                      found, magic, what));
  }
  if (got < header.size()) {
    throw DataError(
        path, fmt::format("truncated: expected {} bytes of header, got {}", header.size(), got));
  }
  std::vector<int64_t> dims(ndims);
  for (size_t i = 0; i < ndims; ++i) dims[i] = be32(header.data() + 4 * (i + 1));
  return dims;
}

at::Tensor bytes_to_float(std::vector<uint8_t>& bytes, at::IntArrayRef shape) {
  return at::from_blob(bytes.data(), shape, at::kByte).to(at::kFloat);
}

void check_labels(const std::vector<int64_t>& labels, const std::string& path,
                  const std::vector<int64_t>& records, int64_t num_classes) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw DataError(record_path(path, records.empty() ? static_cast<int64_t>(i) : records[i]),
                      fmt::format("label {} out of range [0, {})", labels[i], num_classes));
    }
  }
}

at::Tensor labels_tensor(const std::vector<int64_t>& labels) {
  return at::tensor(at::ArrayRef<int64_t>(labels), at::kLong);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_file(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::vector<std::string> list_images(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && is_image_file(entry.path())) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string size_str(int64_t h, int64_t w) { return fmt::format("{}x{} (height x width)", h, w); }

}  // namespace

Split read_idx(const std::string& images_path, const std::string& labels_path,
               int64_t num_classes) {
  Split split;
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;
  {
    GzFile file(images_path);
    const auto dims = read_idx_header(file, images_path, kIdxImageMagic, 3, "image");
    n = dims[0];
    h = dims[1];
    w = dims[2];
    if (n > kMaxRecords || h > kMaxSide || w > kMaxSide || h == 0 || w == 0) {
      throw DataError(images_path,
                      fmt::format("implausible dimensions {} x {} x {} (at most {} images of 1 to "
                                  "{} pixels per side); is this an IDX image file?",
                                  n, h, w, kMaxRecords, kMaxSide));
    }
    const size_t expected = static_cast<size_t>(n * h * w);
    // Sized from the header before a byte of pixel data is read: a gzip bomb with a plausible
    // header inflates to whatever it declares. Peak: the bytes plus their float32 copy.
    check_fits(images_path, fmt::format("the header declares {} images of {}×{}", n, h, w),
               static_cast<double>(expected));
    pixels = file.read_up_to(expected);
    if (pixels.size() < expected) {
      throw DataError(
          images_path,
          fmt::format("truncated: expected {} bytes of pixel data, got {}{}", expected,
                      pixels.size(),
                      where_it_ends(file, pixels.size(), static_cast<size_t>(h * w), n, "image")));
    }
    expect_end(file, images_path, n);
  }
  std::vector<int64_t> labels;
  {
    GzFile file(labels_path);
    const auto dims = read_idx_header(file, labels_path, kIdxLabelMagic, 1, "label");
    const int64_t count = dims[0];
    if (count != n) {
      throw DataError(labels_path, fmt::format("holds {} labels but the image file {} holds {} "
                                               "images: the counts must match",
                                               count, images_path, n));
    }
    const auto bytes = file.read_up_to(static_cast<size_t>(count));
    if (static_cast<int64_t>(bytes.size()) < count) {
      throw DataError(
          labels_path,
          fmt::format("truncated: expected {} bytes of label data, got {}{}", count, bytes.size(),
                      where_it_ends(file, bytes.size(), 1, count, "label")));
    }
    expect_end(file, labels_path, count);
    labels.assign(bytes.begin(), bytes.end());
  }
  check_labels(labels, labels_path, {}, num_classes);
  split.images = bytes_to_float(pixels, {n, 1, h, w});
  split.labels = labels_tensor(labels);
  split.source_index.resize(static_cast<size_t>(n));
  std::iota(split.source_index.begin(), split.source_index.end(), int64_t{0});
  return split;
}

Split read_cifar10(const std::vector<std::string>& paths, int64_t num_classes) {
  if (paths.empty()) throw DataError("data", "cifar10: no batch files given (files: [...])");
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const auto& path : paths) {
    GzFile file(path);
    // CIFAR has no header: the bytes that fit are the bound. A raw file's size is known before
    // reading; a gzip stream is read until it passes what is left of the bound.
    const double usable = static_cast<double>(usable_memory_bytes());
    const std::string memory = usable_memory_text();  // before this file's buffer grows
    const double budget =
        usable > 0 ? usable / kCifarReadCopies - static_cast<double>(pixels.size()) : 1e18;
    std::error_code ec;
    const auto on_disk = fs::file_size(path, ec);
    if (!ec && !file.compressed() && static_cast<double>(on_disk) > budget) {
      check_fits(path, fmt::format("{} bytes of CIFAR-10 records", on_disk),
                 static_cast<double>(on_disk) + static_cast<double>(pixels.size()),
                 kCifarReadCopies, memory, "is this a CIFAR-10 batch?");
    }
    const size_t limit = budget < 1       ? 0
                         : budget >= 1e18 ? SIZE_MAX - 1
                                          : static_cast<size_t>(budget);
    const auto bytes = file.read_all(limit);  // to the end: zlib checks a gzip trailer there
    if (bytes.size() > limit) {
      check_fits(path,
                 fmt::format("the gzip stream inflates to more than {} of CIFAR-10 records",
                             format_bytes(static_cast<double>(limit))),
                 static_cast<double>(bytes.size()) + static_cast<double>(pixels.size()),
                 kCifarReadCopies, memory, "a gzip bomb?");
    }
    if (file.cut_short()) {
      throw DataError(path, fmt::format("truncated gzip: the stream ends after {} bytes, in "
                                        "record {} ({} complete {}-byte CIFAR-10 records), before "
                                        "its CRC/length trailer",
                                        bytes.size(), bytes.size() / kCifarRecord,
                                        bytes.size() / kCifarRecord, kCifarRecord));
    }
    if (bytes.empty()) throw DataError(path, "empty file, expected CIFAR-10 records");
    if (bytes.size() % kCifarRecord != 0) {
      throw DataError(path, fmt::format("truncated: {} bytes is not a multiple of the {}-byte "
                                        "CIFAR-10 record (1 label byte + {} pixel bytes); the "
                                        "last record has {} bytes (the file ends in record {})",
                                        bytes.size(), kCifarRecord, kCifarPixels,
                                        bytes.size() % kCifarRecord, bytes.size() / kCifarRecord));
    }
    const int64_t records = static_cast<int64_t>(bytes.size()) / kCifarRecord;
    const size_t base = pixels.size();
    pixels.resize(base + static_cast<size_t>(records * kCifarPixels));
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* rec = bytes.data() + r * kCifarRecord;
      if (rec[0] >= num_classes) {
        throw DataError(record_path(path, r),
                        fmt::format("label {} out of range [0, {})", rec[0], num_classes));
      }
      labels.push_back(rec[0]);
      std::memcpy(pixels.data() + base + r * kCifarPixels, rec + 1, kCifarPixels);
    }
  }
  Split split;
  const int64_t n = static_cast<int64_t>(labels.size());
  split.images = bytes_to_float(pixels, {n, 3, 32, 32});
  split.labels = labels_tensor(labels);
  split.source_index.resize(static_cast<size_t>(n));
  std::iota(split.source_index.begin(), split.source_index.end(), int64_t{0});
  return split;
}

std::vector<std::string> list_class_folders(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw DataError(root, "folder not found");
  if (!fs::is_directory(root, ec))
    throw DataError(root,
                    "not a directory (expected a folder "
                    "with one sub-folder per class)");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (names.empty())
    throw DataError(root, "no class sub-folders (expected one sub-folder per class)");
  return names;
}

Split read_folder(const std::string& root, const std::vector<std::string>& classes,
                  const FolderOptions& options, bool allow_missing_classes, const WarningSink& warn,
                  std::vector<std::string>* skipped) {
  // A file that fails to decode gets one message naming it (below); OpenCV's own decoder logs
  // ("OpenJPEG2000: Stream too short", found by fuzz/folder_fuzz) would only add noise.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  // The listing: (file, label), classes in order, files sorted by name.
  std::vector<std::pair<std::string, int64_t>> listing;
  const auto present = list_class_folders(root);
  for (const auto& name : present) {
    if (std::find(classes.begin(), classes.end(), name) == classes.end()) {
      throw DataError((fs::path(root) / name).string(),
                      "class folder not among the training classes");
    }
  }
  for (size_t c = 0; c < classes.size(); ++c) {
    const std::string dir = (fs::path(root) / classes[c]).string();
    if (!fs::is_directory(dir)) {
      if (allow_missing_classes) continue;
      throw DataError(dir, "class folder not found");
    }
    const auto files = list_images(dir);
    if (files.empty()) {
      throw DataError(dir, "empty class folder: no .jpg, .jpeg, .png or .bmp images");
    }
    for (const auto& f : files) listing.emplace_back(f, static_cast<int64_t>(c));
  }

  // A file that fails the structure check is never decoded: libjpeg would only warn on stderr.
  auto bad_image = [&](const std::string& path, const std::string& why) {
    if (!options.skip_bad_images) {
      throw DataError(path, why + "; set data.skip_bad_images: true to skip such files");
    }
    if (skipped != nullptr) skipped->push_back(path);
    if (warn) warn(path + ": " + why + ", skipped (data.skip_bad_images)");
  };

  int64_t channels = options.channels.value_or(0);
  if (channels == 0) {  // from the first complete, decodable image
    for (const auto& [path, label] : listing) {
      if (!image_truncation(path).empty()) continue;
      cv::Mat probe;
      try {  // OpenCV throws on some malformed headers (fuzz/folder_fuzz: a crafted BMP)
        probe = cv::imread(path, cv::IMREAD_UNCHANGED);
      } catch (const cv::Exception&) {
        continue;  // not decodable: the loop below reports it
      }
      if (!probe.empty()) {
        channels = probe.channels() <= 2 ? 1 : 3;
        break;
      }
    }
    if (channels == 0) channels = 3;  // nothing decodable: the loop below reports it
  }
  if (channels != 1 && channels != 3) {
    throw DataError(root, fmt::format("data.channels must be 1 or 3, got {}", channels));
  }

  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels, source_index;
  std::vector<std::string> paths;
  int64_t h = 0, w = 0;
  std::string first_path = options.expected_size_source;
  if (options.image_size) {
    h = options.image_size->first;
    w = options.image_size->second;
  } else if (options.expected_size) {
    h = options.expected_size->first;
    w = options.expected_size->second;
  }
  if (h > 0 && w > 0) {
    // Decoded pixels (8-bit) and their float32 copy, known before the first image is resized.
    const double bytes = 5.0 * static_cast<double>(listing.size()) * channels *
                         static_cast<double>(h) * static_cast<double>(w);
    if (!fits_in_usable_memory(bytes)) {
      throw DataError(root, fmt::format("{} images of {}×{}×{} need {}; {} "
                                        "(lower data.image_size)",
                                        listing.size(), channels, h, w, format_bytes(bytes),
                                        usable_memory_text()));
    }
  }
  const int flags = channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
  for (size_t i = 0; i < listing.size(); ++i) {
    const auto& [path, label] = listing[i];
    const std::string truncated = image_truncation(path);
    if (!truncated.empty()) {
      bad_image(path, truncated);
      continue;
    }
    cv::Mat img;
    try {
      img = cv::imread(path, flags);
    } catch (const cv::Exception&) {
      img = cv::Mat();
    }
    if (img.empty()) {
      bad_image(path, "cannot decode image (not a readable JPEG, PNG or BMP)");
      continue;
    }
    if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    if (options.image_size) {
      if (img.rows != h || img.cols != w) {
        cv::resize(img, img, cv::Size(static_cast<int>(w), static_cast<int>(h)), 0, 0,
                   cv::INTER_LINEAR);
      }
    } else if (h == 0) {
      h = img.rows;
      w = img.cols;
      first_path = path;
    } else if (img.rows != h || img.cols != w) {
      throw DataError(path, fmt::format("image is {} but {} is {}; set data.image_size to resize "
                                        "every image on load",
                                        size_str(img.rows, img.cols), first_path, size_str(h, w)));
    }
    if (!img.isContinuous()) img = img.clone();
    const size_t plane = static_cast<size_t>(h * w);
    const size_t base = pixels.size();
    pixels.resize(base + plane * static_cast<size_t>(channels));
    const uint8_t* src = img.ptr<uint8_t>(0);
    if (channels == 1) {
      std::memcpy(pixels.data() + base, src, plane);
    } else {
      for (size_t p = 0; p < plane; ++p) {  // HWC → CHW
        pixels[base + p] = src[3 * p];
        pixels[base + plane + p] = src[3 * p + 1];
        pixels[base + 2 * plane + p] = src[3 * p + 2];
      }
    }
    labels.push_back(label);
    source_index.push_back(static_cast<int64_t>(i));
    paths.push_back(path);
  }
  if (labels.empty()) throw DataError(root, "no decodable images");

  Split split;
  const int64_t n = static_cast<int64_t>(labels.size());
  split.images = bytes_to_float(pixels, {n, channels, h, w});
  split.labels = labels_tensor(labels);
  split.source_index = std::move(source_index);
  split.source_paths = std::move(paths);
  return split;
}

}  // namespace lossdoctor::data::detail
