// Damaged files are DataErrors, never silent training data: gzip streams with a flipped byte or
// cut short (zlib checks the CRC/length trailer only at the end of the stream), bytes after the
// records an IDX header declares, and truncated JPEG/PNG/BMP images (OpenCV decodes a cut JPEG
// with only a libjpeg warning).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "data/data_test_util.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/image_io.hpp"

namespace lossdoctor::data::test {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

/// `n` images of h×w with seeded random pixels (so the gzip stream is long and incompressible
/// enough that a flipped byte lands in compressed data), labels i % 10.
IdxFiles write_random_idx(const TempDir& dir, int64_t n, int64_t h, int64_t w, bool gz) {
  std::mt19937 rng(11);
  std::vector<uint8_t> pixels(static_cast<size_t>(n * h * w)), labels;
  for (auto& p : pixels) p = static_cast<uint8_t>(rng() % 16);  // 4 bits: compresses ~2x
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  IdxFiles f{"train-images-idx3-ubyte" + std::string(gz ? ".gz" : ""),
             "train-labels-idx1-ubyte" + std::string(gz ? ".gz" : "")};
  write_bytes(dir.file(f.images),
              idx_images(static_cast<uint32_t>(n), static_cast<uint32_t>(h),
                         static_cast<uint32_t>(w), pixels),
              gz);
  write_bytes(dir.file(f.labels), idx_labels(labels), gz);
  return f;
}

TEST(GzipIntegrity, AFlippedByteAnywhereInTheCompressedDataIsADataError) {
  TempDir dir;
  const auto files = write_random_idx(dir, 100, 8, 8, /*gz=*/true);
  const std::string path = dir.file(files.images);
  const auto good = read_file(path);
  ASSERT_GT(good.size(), 1000u);
  // Every 7th byte between the 10-byte gzip header and the 8-byte trailer: some flips break the
  // deflate data (zlib Z_DATA_ERROR), others decode to different bytes (CRC mismatch) or to
  // fewer or more of them; each must stop the load, naming the file.
  int flips = 0;
  for (size_t at = 10; at + 8 < good.size(); at += 7) {
    auto bad = good;
    bad[at] ^= 0xFF;
    write_bytes(path, bad, /*gz=*/false);
    expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); }, {path});
    ++flips;
  }
  EXPECT_GT(flips, 100);
  // The exact middle: the message says the gzip data is damaged.
  auto bad = good;
  bad[good.size() / 2] ^= 0xFF;
  write_bytes(path, bad, false);
  try {
    load_dataset(idx_spec(dir, files), 0);
    ADD_FAILURE() << "a flipped byte loaded silently";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.path(), path);
    EXPECT_TRUE(what.find("gzip data is damaged") != std::string::npos ||
                what.find("truncated") != std::string::npos ||
                what.find("trailing bytes") != std::string::npos)
        << what;
  }
}

TEST(GzipIntegrity, ATrailerMismatchSaysTheCrcOrLengthCheckFailed) {
  TempDir dir;
  const auto files = write_random_idx(dir, 20, 4, 4, true);
  for (const std::string& name : {files.images, files.labels}) {
    const std::string path = dir.file(name);
    const auto good = read_file(path);
    auto bad = good;
    bad[good.size() - 8] ^= 0x01;  // CRC-32 of the uncompressed data
    write_bytes(path, bad, false);
    expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                      {path, "gzip data is damaged (CRC check failed"});
    bad = good;
    bad[good.size() - 4] ^= 0x01;  // ISIZE: uncompressed length mod 2^32
    write_bytes(path, bad, false);
    expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                      {path, "gzip data is damaged (length check failed"});
    write_bytes(path, good, false);
  }
  EXPECT_EQ(load_dataset(idx_spec(dir, files), 0).train.size(), 20);
}

TEST(GzipIntegrity, ATruncatedStreamNamesTheRecordItEndsIn) {
  TempDir dir;
  const auto files = write_random_idx(dir, 100, 8, 8, true);
  const std::string path = dir.file(files.images);
  const auto good = read_file(path);
  // Cut in the middle: the pixel data stops inside some image.
  write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {path, "truncated: expected 6400 bytes of pixel data", "the file ends at image",
                     "of 100", "the gzip stream is cut short"});
  // Cut the 8-byte trailer only: every record decodes, but nothing checks it.
  write_bytes(path, std::vector<uint8_t>(good.begin(), good.end() - 8), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {path, "truncated gzip: all 100 records are there", "CRC/length trailer"});
  // Labels too.
  write_bytes(path, good, false);
  const std::string labels = dir.file(files.labels);
  const auto good_labels = read_file(labels);
  write_bytes(labels, std::vector<uint8_t>(good_labels.begin(), good_labels.end() - 3), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {labels, "truncated gzip: all 100 records are there"});
}

TEST(IdxIntegrity, TrailingBytesAfterTheDeclaredRecordsAreAnError) {
  for (bool gz : {false, true}) {
    TempDir dir;
    auto files = write_idx(dir, 4, 3, 3, gz);
    std::vector<uint8_t> pixels(4 * 9 + 5, 7);  // 5 bytes more than 4 images of 3x3
    write_bytes(dir.file(files.images), idx_images(4, 3, 3, pixels), gz);
    expect_data_error(
        [&] { load_dataset(idx_spec(dir, files), 0); },
        {dir.file(files.images), "5 trailing bytes after the 4 records the header declares"});
    files = write_idx(dir, 4, 3, 3, gz);
    write_bytes(dir.file(files.labels), idx_labels({1, 2, 3, 4, 5, 6}, 0x00000801, 4), gz);
    expect_data_error(
        [&] { load_dataset(idx_spec(dir, files), 0); },
        {dir.file(files.labels), "2 trailing bytes after the 4 records the header declares"});
  }
}

TEST(IdxIntegrity, ARawFileCutInsideAnImageNamesIt) {
  TempDir dir;
  auto files = write_idx(dir, 4, 3, 3, false);
  write_bytes(dir.file(files.images), idx_images(4, 3, 3, std::vector<uint8_t>(22, 1)), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {dir.file(files.images), "got 22: the file ends at image 2 of 4 (2 complete)"});
}

TEST(IdxIntegrity, AHeaderDeclaringMoreThanMemoryHoldsIsRefusedBeforeReading) {
  // 10^7 images of 4096×4096: 168 TB of pixels, more than any machine; the file holds 40 bytes.
  // Refused from the header with the numbers, not by reading (or inflating) until memory ends.
  for (bool gz : {false, true}) {
    TempDir dir;
    auto files = write_idx(dir, 4, 3, 3, gz);
    write_bytes(dir.file(files.images),
                idx_images(10'000'000, 4096, 4096, std::vector<uint8_t>(40, 1)), gz);
    expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                      {dir.file(files.images),
                       "the header declares 10000000 images of 4096×4096: 167.8 TB of pixels",
                       "a wrong header, or a gzip bomb?"});
  }
}

TEST(CifarIntegrity, GzipBatchesAreCheckedToTheirTrailer) {
  TempDir dir;
  std::vector<uint8_t> records;
  for (int i = 0; i < 3; ++i) {
    records.push_back(static_cast<uint8_t>(i));
    for (int p = 0; p < 3072; ++p) records.push_back(static_cast<uint8_t>((p * 31 + i) % 251));
  }
  const std::string path = dir.file("data_batch_1.bin.gz");
  write_bytes(path, records, true);
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Cifar10;
  s.path = dir.str();
  s.train.files = {"data_batch_1.bin.gz"};
  s.train.present = true;
  EXPECT_EQ(load_dataset(s, 0).train.size(), 3);
  const auto good = read_file(path);
  auto bad = good;
  bad[good.size() - 8] ^= 0x40;
  write_bytes(path, bad, false);
  expect_data_error([&] { load_dataset(s, 0); }, {path, "gzip data is damaged (CRC check failed"});
  // Without its trailer the stream still decodes to whole records: that used to load.
  write_bytes(path, std::vector<uint8_t>(good.begin(), good.end() - 8), false);
  expect_data_error([&] { load_dataset(s, 0); }, {path, "truncated gzip", "record 3"});
}

// ---------------------------------------------------------------------------- images

/// An RGB image with a gradient and some texture, so that a cut removes real data.
at::Tensor textured(int64_t h, int64_t w, int base) {
  auto t = at::empty({3, h, w}, at::kFloat);
  auto a = t.accessor<float, 3>();
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        a[c][y][x] = static_cast<float>((base + 40 * c + 7 * y + 3 * x + (x * y) % 13) % 256);
  return t;
}

/// root/train/{a,b}/img<i><ext>, `per_class` complete images each.
spec::DataSpec image_folder(const TempDir& dir, const std::string& ext, int per_class = 3) {
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(dir.file(std::string("train/") + cls));
    for (int i = 0; i < per_class; ++i) {
      save_image(dir.file(std::string("train/") + cls + "/img" + std::to_string(i) + ext),
                 textured(32, 32, 20 * i + (cls[0] - 'a')));
    }
  }
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Folder;
  s.path = dir.str();
  s.train.path = "train";
  s.train.present = true;
  return s;
}

/// Rewrites `path` with only its first `keep` bytes (negative: all but the last -keep).
void cut(const std::string& path, long keep) {
  auto bytes = read_file(path);
  const size_t n =
      keep >= 0 ? static_cast<size_t>(keep) : bytes.size() - static_cast<size_t>(-keep);
  bytes.resize(n);
  write_bytes(path, bytes, false);
}

struct TruncationCase {
  std::string ext;
  long keep;  ///< bytes kept (negative: dropped from the end)
  std::string message;
};

TEST(ImageIntegrity, TruncatedImagesFailNamingTheFileOrAreSkippedAndCounted) {
  const std::vector<TruncationCase> cases = {
      {".jpg", 400, "truncated JPEG: no end-of-image marker"},
      {".jpg", -2, "truncated JPEG: no end-of-image marker"},  // only the FF D9 is missing
      {".png", -12, "truncated PNG: no IEND chunk"},
      {".png", 200, "truncated PNG: no IEND chunk"},
      {".bmp", 1500, "truncated BMP"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ext + " cut to " + std::to_string(c.keep));
    TempDir dir;
    auto s = image_folder(dir, c.ext);
    const std::string bad = dir.file("train/b/img1" + c.ext);
    cut(bad, c.keep);
    ::testing::internal::CaptureStderr();
    expect_data_error([&] { load_dataset(s, 0); }, {bad, c.message, "skip_bad_images"});
    s.skip_bad_images = true;
    std::vector<std::string> warnings;
    const auto ds = load_dataset(s, 0, [&](const std::string& w) { warnings.push_back(w); });
    const std::string stderr_text = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(stderr_text.find("JPEG"), std::string::npos)
        << "libjpeg's own warning leaked: " << stderr_text;
    EXPECT_EQ(ds.train.size(), 5);
    EXPECT_EQ(ds.skipped_bad_images, std::vector<std::string>{bad});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find(bad + ": " + c.message), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("skipped"), std::string::npos) << warnings[0];
  }
}

/// Overwrites `bytes` at `at` with `value` in big- or little-endian order.
void put(std::vector<uint8_t>& bytes, size_t at, uint64_t value, int width, bool big_endian) {
  for (int k = 0; k < width; ++k) {
    const int shift = 8 * (big_endian ? width - 1 - k : k);
    bytes[at + static_cast<size_t>(k)] = static_cast<uint8_t>((value >> shift) & 0xFF);
  }
}

TEST(ImageIntegrity, AHeaderDeclaringAnAbsurdSizeIsRejectedBeforeDecoding) {
  // The decoder allocates what the header declares: a 40000×40000 header must be refused by the
  // structure check, never handed to OpenCV (fuzz/folder_fuzz found a 52-byte BMP doing this).
  for (const std::string ext : {".png", ".bmp", ".jpg"}) {
    SCOPED_TRACE(ext);
    TempDir dir;
    auto s = image_folder(dir, ext);
    const std::string bad = dir.file("train/a/img2" + ext);
    auto bytes = read_file(bad);
    if (ext == ".png") {  // IHDR width and height
      put(bytes, 16, 40000, 4, true);
      put(bytes, 20, 40000, 4, true);
    } else if (ext == ".bmp") {  // BITMAPINFOHEADER width and height
      put(bytes, 18, 40000, 4, false);
      put(bytes, 22, 40000, 4, false);
    } else {  // the first start-of-frame segment: height, then width
      size_t i = 2;
      while (!(bytes[i] == 0xFF && bytes[i + 1] >= 0xC0 && bytes[i + 1] <= 0xC3)) {
        i += 2 + ((size_t{bytes[i + 2]} << 8) | bytes[i + 3]);
      }
      put(bytes, i + 5, 40000, 2, true);
      put(bytes, i + 7, 40000, 2, true);
    }
    write_bytes(bad, bytes, false);
    expect_data_error([&] { load_dataset(s, 0); }, {bad, "image too large", "40000×40000"});
  }
  // The fuzzer's own input: a BMP shorter than the info header it announces.
  TempDir dir;
  auto s = image_folder(dir, ".bmp");
  const std::string bad = dir.file("train/b/img0.bmp");
  const std::vector<uint8_t> fuzzed = {0x42, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x42,
                                       0x00, 0x25, 0x01, 0x00, 0x66, 0x32, 0x00, 0x00, 0x01,
                                       0x28, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x85, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x0a, 0xfe, 0xff,
                                       0x3c, 0x96, 0x5a, 0x5a, 0x96, 0x5a};  // after the harness's
                                                                             // selector byte
  write_bytes(bad, fuzzed, false);
  expect_data_error([&] { load_dataset(s, 0); }, {bad, "truncated BMP"});
}

TEST(ImageIntegrity, CompleteImagesPassWhateverFollowsTheirEnd) {
  TempDir dir;
  auto s = image_folder(dir, ".jpg", 2);
  // Data appended after the end-of-image marker (some cameras do) and zero padding are fine.
  {
    std::ofstream out(dir.file("train/a/img0.jpg"), std::ios::binary | std::ios::app);
    out << "SEFT trailer written by a phone";
  }
  {
    std::ofstream out(dir.file("train/a/img1.jpg"), std::ios::binary | std::ios::app);
    out << std::string(16, '\0');
  }
  const auto ds = load_dataset(s, 0);
  EXPECT_EQ(ds.train.size(), 4);
  EXPECT_TRUE(ds.skipped_bad_images.empty());
  TempDir other;
  EXPECT_EQ(load_dataset(image_folder(other, ".png", 2), 0).train.size(), 4);
  TempDir bmp;
  EXPECT_EQ(load_dataset(image_folder(bmp, ".bmp", 2), 0).train.size(), 4);
}

TEST(ImageIntegrity, SkippedImagesOfBothSplitsAreCounted) {
  TempDir dir;
  auto s = image_folder(dir, ".png");
  fs::create_directories(dir.file("val/a"));
  save_image(dir.file("val/a/v0.png"), textured(32, 32, 5));
  save_image(dir.file("val/a/v1.png"), textured(32, 32, 6));
  cut(dir.file("val/a/v1.png"), 100);
  cut(dir.file("train/a/img2.png"), -1);
  std::ofstream(dir.file("train/b/img9.png")) << "not a png";
  s.val.path = "val";
  s.val.present = true;
  s.skip_bad_images = true;
  const auto ds = load_dataset(s, 0);
  EXPECT_EQ(ds.train.size(), 5);  // 3 + 3 + 1 files, 2 of them bad
  EXPECT_EQ(ds.val.size(), 1);
  EXPECT_EQ(ds.skipped_bad_images,
            (std::vector<std::string>{dir.file("train/a/img2.png"), dir.file("train/b/img9.png"),
                                      dir.file("val/a/v1.png")}));
}

}  // namespace
}  // namespace lossdoctor::data::test
