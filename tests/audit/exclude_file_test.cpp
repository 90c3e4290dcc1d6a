// The files audit --out writes hold every flagged sample, whatever the report abbreviates; files
// skipped by data.skip_bad_images are counted in the report; an empty training split is an input
// error (exit 2), not a clean audit.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>

#include "data/data_test_util.hpp"
#include "lossdoctor/audit/audit.hpp"
#include "lossdoctor/data/image_io.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::audit {
namespace {

using data::test::idx_images;
using data::test::idx_labels;
using data::test::TempDir;
using data::test::write_bytes;

/// train-{images,labels} in `dir`: n 6×6 images with random pixels and labels i % 10, except the
/// source records in `blank`, which are all zero (a corrupt_samples finding flags each one).
void write_idx_with_blanks(const TempDir& dir, int64_t n, const std::set<int64_t>& blank) {
  std::mt19937 rng(5);
  std::vector<uint8_t> pixels, labels;
  for (int64_t i = 0; i < n; ++i) {
    for (int p = 0; p < 36; ++p) {
      pixels.push_back(blank.count(i) ? 0 : static_cast<uint8_t>(60 + rng() % 100));
    }
    labels.push_back(static_cast<uint8_t>(i % 10));
  }
  write_bytes(dir.file("train-images"), idx_images(static_cast<uint32_t>(n), 6, 6, pixels), false);
  write_bytes(dir.file("train-labels"), idx_labels(labels), false);
}

spec::Spec idx_spec(const TempDir& dir, const std::string& extra = "") {
  return spec::parse_spec_text("seed: 1\ndata:\n  path: " + dir.str() +
                                   "\n  train: {images: train-images, labels: train-labels" +
                                   extra +
                                   "}\nmodel:\n  layers: [{flatten: {}}, {dense: {units: "
                                   "10}}]\n",
                               "audit.yaml");
}

std::set<int64_t> read_exclude(const std::string& path) {
  std::ifstream in(path);
  std::set<int64_t> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.insert(std::stoll(line));
  }
  return out;
}

TEST(AuditExcludeFile, HoldsEveryFlaggedSampleWhileTheReportSaysHowManyItLeftOut) {
  TempDir dir;
  std::set<int64_t> blank;
  for (int64_t i = 1; i < 400; i += 3) blank.insert(i);  // 133 of 400
  write_idx_with_blanks(dir, 400, blank);
  AuditRunOptions options;
  options.label_issues = false;
  options.checks.max_samples = 50;
  options.out_dir = dir.file("out");
  const report::Report r = run_audit(idx_spec(dir), options);

  // The file: every one of the 133, as source indices.
  EXPECT_EQ(read_exclude(dir.file("out/exclude.txt")), blank);
  // The report: 50 listed, and it says 83 more were left out.
  const Finding* corrupt = nullptr;
  for (const auto& f : r.findings) {
    if (f.cause == "corrupt_samples" && f.severity == "error") corrupt = &f;
  }
  ASSERT_NE(corrupt, nullptr);
  EXPECT_EQ(corrupt->samples.size(), 50u);
  for (int64_t s : corrupt->samples) EXPECT_TRUE(blank.count(s)) << s;  // no limit: same order
  bool said = false;
  for (const auto& e : corrupt->evidence) {
    said |= e.find(
                "samples lists the first 50 of 133 flagged (83 omitted; the exclude file holds "
                "every one)") != std::string::npos;
  }
  EXPECT_TRUE(said) << "no evidence line counts the omitted samples";
  for (const auto& f : r.findings) {
    EXPECT_LE(f.samples.size(), 50u) << f.cause;
  }

  // Loading with the file drops all 133.
  const spec::Spec cleaned = idx_spec(dir, ", exclude: " + dir.file("out/exclude.txt"));
  EXPECT_EQ(data::load_dataset(cleaned.data, cleaned.seed).train.size(), 400 - 133);
}

TEST(AuditExcludeFile, NothingOmittedNoOmissionLine) {
  TempDir dir;
  write_idx_with_blanks(dir, 100, {3, 50});
  AuditRunOptions options;
  options.label_issues = false;
  const report::Report r = run_audit(idx_spec(dir), options);
  for (const auto& f : r.findings) {
    for (const auto& e : f.evidence) EXPECT_EQ(e.find("omitted"), std::string::npos) << e;
  }
}

TEST(AuditSkippedImages, TheReportCountsTheFilesSkipBadImagesLeftOut) {
  TempDir dir;
  for (const char* cls : {"a", "b"}) {
    data::test::fs::create_directories(dir.file(std::string("train/") + cls));
    for (int i = 0; i < 4; ++i) {
      data::save_image(dir.file(std::string("train/") + cls + "/" + std::to_string(i) + ".png"),
                       at::full({1, 8, 8}, 30.0 + 40 * i + (cls[0] == 'b' ? 7 : 0)));
    }
  }
  // Cut one PNG before its IEND chunk.
  const std::string bad = dir.file("train/b/2.png");
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(bad, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes.resize(bytes.size() - 12);
  write_bytes(bad, bytes, false);
  const spec::Spec spec = spec::parse_spec_text(
      "data:\n  format: folder\n  path: " + dir.str() +
          "\n  skip_bad_images: true\n  train: {path: train}\nmodel:\n  layers: [{flatten: {}}, "
          "{dense: {units: 2}}]\n",
      "audit.yaml");
  AuditRunOptions options;
  options.label_issues = false;
  const report::Report r = run_audit(spec, options);
  bool counted = false;
  for (const auto& n : r.notes) {
    counted |= n.find("data.skip_bad_images skipped 1 truncated or undecodable image files") !=
                   std::string::npos &&
               n.find(bad) != std::string::npos;
  }
  EXPECT_TRUE(counted) << "no note counts the skipped file";
}

TEST(AuditEmptySplit, AnEmptyTrainingSplitIsADataErrorNotACleanAudit) {
  TempDir dir;
  write_bytes(dir.file("train-images"), idx_images(0, 6, 6, {}), false);
  write_bytes(dir.file("train-labels"), idx_labels({}), false);
  AuditRunOptions options;
  options.label_issues = false;
  data::test::expect_data_error([&] { run_audit(idx_spec(dir), options); },
                                {dir.file("train-images"), "the training split is empty"});
  // Emptied by the exclude file: the file is named.
  write_idx_with_blanks(dir, 5, {});
  std::ofstream(dir.file("all.txt")) << "0\n1\n2\n3\n4\n";
  data::test::expect_data_error(
      [&] { run_audit(idx_spec(dir, ", exclude: " + dir.file("all.txt")), options); },
      {dir.file("all.txt"), "excludes all 5 training samples"});
}

}  // namespace
}  // namespace lossdoctor::audit
