#pragma once
// Helpers for the data-stage tests: temporary directories and small synthetic data files.

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::data::test {

namespace fs = std::filesystem;

/// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "lossdoctor-data-";
    if (info != nullptr) name += std::string(info->test_suite_name()) + "-" + info->name();
    name += "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    path_ = fs::temp_directory_path() / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gz) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
}

inline void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(static_cast<uint8_t>(x >> 24));
  v.push_back(static_cast<uint8_t>(x >> 16));
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

/// IDX image file bytes: header + pixels (pixels.size() may differ from n*h*w to truncate).
inline std::vector<uint8_t> idx_images(uint32_t n, uint32_t h, uint32_t w,
                                       const std::vector<uint8_t>& pixels,
                                       uint32_t magic = 0x00000803) {
  std::vector<uint8_t> v;
  put_be32(v, magic);
  put_be32(v, n);
  put_be32(v, h);
  put_be32(v, w);
  v.insert(v.end(), pixels.begin(), pixels.end());
  return v;
}

inline std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels,
                                       uint32_t magic = 0x00000801, int64_t count = -1) {
  std::vector<uint8_t> v;
  put_be32(v, magic);
  put_be32(v, static_cast<uint32_t>(count < 0 ? labels.size() : count));
  v.insert(v.end(), labels.begin(), labels.end());
  return v;
}

/// Pixel of sample i at (y, x): a recognisable pattern.
inline uint8_t pattern(int64_t i, int64_t y, int64_t x) {
  return static_cast<uint8_t>((i * 7 + y * 3 + x) % 256);
}

/// n samples of h×w with pattern() pixels and labels i % classes (or `labels` when given).
struct IdxFiles {
  std::string images, labels;
};
inline IdxFiles write_idx(const TempDir& dir, int64_t n, int64_t h, int64_t w, bool gz,
                          std::vector<uint8_t> labels = {}, const std::string& stem = "train") {
  std::vector<uint8_t> pixels;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) pixels.push_back(pattern(i, y, x));
  if (labels.empty()) {
    for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  }
  IdxFiles f;
  const std::string ext = gz ? ".gz" : "";
  f.images = stem + "-images-idx3-ubyte" + ext;
  f.labels = stem + "-labels-idx1-ubyte" + ext;
  write_bytes(dir.file(f.images), idx_images(n, h, w, pixels), gz);
  write_bytes(dir.file(f.labels), idx_labels(labels), gz);
  return f;
}

/// A DataSpec for IDX files in `dir` (train only).
inline spec::DataSpec idx_spec(const TempDir& dir, const IdxFiles& train) {
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Idx;
  s.path = dir.str();
  s.train.images = train.images;
  s.train.labels = train.labels;
  s.train.present = true;
  return s;
}

/// Runs `fn`, expects a DataError whose what() contains every one of `parts`.
template <typename Fn>
void expect_data_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected DataError containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const DataError& e) {
    const std::string what = e.what();
    for (const auto& p : parts) {
      EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
    }
  }
}

}  // namespace lossdoctor::data::test
