// Data audit checks: synthetic positives and near misses for each check, then the real
// Fashion-MNIST with injected faults (recall/precision) and clean (false alarms, throughput).
#include "lossdoctor/audit/checks.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace lossdoctor::audit::test {
namespace {

/// n smooth random images 1×8×8 in 0..255 (a blurred blob per class), labels i % classes.
data::Split smooth_split(int64_t n, int64_t classes, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  data::Split s;
  at::Tensor base = at::rand({n, 1, 4, 4}, gen) * 200.0 + 20.0;
  s.images = at::upsample_bilinear2d(base, {8, 8}, false).contiguous();
  s.labels = at::arange(n, at::kLong).remainder(classes);
  return s;
}

data::Dataset smooth_dataset(int64_t n = 400, int64_t nv = 100, uint64_t seed = 1) {
  data::Dataset ds;
  ds.num_classes = 4;
  ds.train = smooth_split(n, 4, seed);
  ds.val = smooth_split(nv, 4, seed + 100);
  return ds;
}

spec::TransformSpec scale(double f) {
  spec::TransformSpec t;
  t.kind = spec::TransformSpec::Kind::Scale;
  t.factor = f;
  return t;
}

spec::TransformSpec normalize(double m, double s) {
  spec::TransformSpec t;
  t.kind = spec::TransformSpec::Kind::Normalize;
  t.mean = {m};
  t.std = {s};
  return t;
}

spec::TransformSpec flip() {
  spec::TransformSpec t;
  t.kind = spec::TransformSpec::Kind::RandomFlip;
  return t;
}

std::set<int64_t> flagged(const std::vector<Finding>& fs, const std::string& cause) {
  std::set<int64_t> out;
  for (const auto& f : fs) {
    if (f.cause == cause) out.insert(f.samples.begin(), f.samples.end());
  }
  return out;
}

// ---------------------------------------------------------------- integrity
TEST(Integrity, CleanDataHasNoFinding) { EXPECT_TRUE(audit_integrity(smooth_dataset()).empty()); }

TEST(Integrity, FlagsNanConstantAndBadLabels) {
  auto ds = smooth_dataset();
  ds.train.images[3][0][2][2] = std::nanf("");
  ds.train.images[7].fill_(0.0);
  ds.train.images[9].fill_(255.0);
  ds.train.images[11].fill_(42.0);
  ds.train.images[13][0][0][0] = INFINITY;
  ds.train.labels[20] = 4;
  ds.train.labels[21] = -1;
  ds.val.images[5].fill_(0.0);
  auto fs = audit_integrity(ds);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "corrupt_samples");
  EXPECT_EQ(fs[0].samples, (std::vector<int64_t>{3, 7, 9, 11, 13, 20, 21}));
  EXPECT_GE(fs[0].confidence, 0.9);
  bool val_mentioned = false;
  for (auto& e : fs[0].evidence) val_mentioned |= e.find("1 val images") != std::string::npos;
  EXPECT_TRUE(val_mentioned);
}

TEST(Integrity, NearMissLowContrastIsNotConstant) {
  auto ds = smooth_dataset();
  ds.train.images[7].fill_(100.0);
  ds.train.images[7][0][0][0] = 101.0;  // std > 0: not constant
  EXPECT_TRUE(audit_integrity(ds).empty());
}

// ---------------------------------------------------------------- outliers
TEST(Outliers, NoiseImagesAreCaughtCleanAreNot) {
  auto ds = smooth_dataset(800);
  EXPECT_TRUE(audit_outliers(ds).empty());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  for (int64_t i : {5, 50, 500}) {
    ds.train.images[i].copy_(at::randint(0, 256, {1, 8, 8}, gen).to(at::kFloat));
  }
  auto fs = audit_outliers(ds);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, "warning");
  EXPECT_EQ(flagged(fs, "corrupt_samples"), (std::set<int64_t>{5, 50, 500}));
}

TEST(Outliers, NearMissSlightlyBrighterImageIsNotFlagged) {
  auto ds = smooth_dataset(800);
  ds.train.images[5] = (ds.train.images[5] * 1.2).clamp(0, 255);
  EXPECT_TRUE(audit_outliers(ds).empty());
}

// ---------------------------------------------------------------- duplicates
TEST(Duplicates, ConflictingLabelsAndLeakage) {
  auto ds = smooth_dataset();
  std::vector<AuditNote> notes;
  EXPECT_TRUE(audit_duplicates(ds, &notes).empty());
  EXPECT_TRUE(notes.empty());
  ds.train.images[10].copy_(ds.train.images[1]);        // exact, labels 2 vs 1: conflict
  ds.train.images[12].copy_(ds.train.images[0]);        // exact, labels 0 vs 0: plain duplicate
  ds.train.images[30].copy_(ds.train.images[2] + 0.5);  // near, labels 2 vs 2
  ds.val.images[3].copy_(ds.train.images[40]);          // leakage (same label)
  ds.val.labels[3] = ds.train.labels[40].item<int64_t>();
  auto fs = audit_duplicates(ds, &notes);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "label_noise");
  EXPECT_EQ(flagged(fs, "label_noise"), (std::set<int64_t>{1, 10}));
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].samples, (std::vector<int64_t>{10, 12, 30}));
  EXPECT_NE(notes[1].text.find("leakage"), std::string::npos);
  EXPECT_EQ(notes[1].samples, (std::vector<int64_t>{40}));
}

TEST(Duplicates, NearMissDifferentImagesSameHashAreNotDuplicates) {
  auto ds = smooth_dataset();
  // Same shape, different contrast: average hash may agree, thumbnails differ a lot.
  ds.train.images[10].copy_((ds.train.images[1] - 100.0) * 0.5 + 100.0);
  std::vector<AuditNote> notes;
  EXPECT_TRUE(audit_duplicates(ds, &notes).empty());
  EXPECT_TRUE(notes.empty());
}

// ---------------------------------------------------------------- ordering
TEST(Ordering, SortedLabelsWithoutShuffle) {
  auto ds = smooth_dataset();
  EXPECT_TRUE(audit_ordering(ds, false).empty());  // i % 4: many runs, not flagged
  ds.train.labels = std::get<0>(ds.train.labels.sort());
  EXPECT_TRUE(audit_ordering(ds, true).empty());
  auto fs = audit_ordering(ds, false);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "unshuffled_data");
  EXPECT_EQ(fs[0].fix.at("data.shuffle"), "true");
}

TEST(Ordering, NearMissRandomOrder) {
  auto ds = smooth_dataset();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  ds.train.labels = ds.train.labels.index_select(0, at::randperm(400, gen));
  EXPECT_TRUE(audit_ordering(ds, false).empty());
}

// ---------------------------------------------------------------- preparation
TEST(Preparation, ExplicitValTransformsDiffer) {
  auto ds = smooth_dataset();
  spec::DataSpec s;
  s.train_transforms = {flip(), scale(1.0 / 255), normalize(0.5, 0.25)};
  EXPECT_TRUE(audit_preparation(ds, s).empty());  // val = train minus flip
  s.val_transforms = {scale(1.0 / 255)};
  s.val_transforms_given = true;
  auto fs = audit_preparation(ds, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "preprocessing_mismatch");
  EXPECT_EQ(fs[0].fix.at("data.transforms.val"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.5], std: [0.25]}}]");
}

TEST(Preparation, NearMissSameStepsWrittenTwice) {
  auto ds = smooth_dataset();
  spec::DataSpec s;
  s.train_transforms = {scale(1.0 / 255)};
  s.val_transforms = {scale(1.0 / 255)};
  s.val_transforms_given = true;
  EXPECT_TRUE(audit_preparation(ds, s).empty());
  s.val_transforms = {scale(1.0 / 250)};  // 2% off: below the thresholds
  EXPECT_TRUE(audit_preparation(ds, s).empty());
}

// ---------------------------------------------------------------- balance
TEST(Balance, ImbalanceAndNearMiss) {
  auto ds = smooth_dataset(400);
  EXPECT_TRUE(audit_balance(ds).empty());
  // Class 3 keeps 20 of its 100 samples: ratio 5.
  std::vector<int64_t> keep;
  int64_t threes = 0;
  for (int64_t i = 0; i < 400; ++i) {
    if (i % 4 != 3 || threes++ < 20) keep.push_back(i);
  }
  auto idx = at::tensor(keep, at::kLong);
  auto sub = ds;
  sub.train.images = ds.train.images.index_select(0, idx);
  sub.train.labels = ds.train.labels.index_select(0, idx);
  auto fs = audit_balance(sub);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "class_imbalance");
  EXPECT_EQ(fs[0].severity, "warning");
  // 30 of 100 (ratio 3.3): below the imbalance ratio, but class 3 is 9% of the training split
  // and 25% of the validation split — an info worth a rerun.
  keep.clear();
  threes = 0;
  for (int64_t i = 0; i < 400; ++i) {
    if (i % 4 != 3 || threes++ < 30) keep.push_back(i);
  }
  idx = at::tensor(keep, at::kLong);
  sub.train.images = ds.train.images.index_select(0, idx);
  sub.train.labels = ds.train.labels.index_select(0, idx);
  fs = audit_balance(sub);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause, "class_imbalance");
  EXPECT_EQ(fs[0].severity, "info");
  EXPECT_LT(fs[0].confidence, 0.5);
  EXPECT_NE(fs[0].evidence.front().find("9.1% of the training split but 25.0% of the validation"),
            std::string::npos)
      << fs[0].evidence.front();
  // Near miss: the validation split has the same proportions (a natural prior, not a shift;
  // 30 of its 100 threes kept, enough to judge).
  const auto val = smooth_split(400, 4, 101);
  std::vector<int64_t> keep_val;
  threes = 0;
  for (int64_t i = 0; i < 400; ++i) {
    if (i % 4 != 3 || threes++ < 30) keep_val.push_back(i);
  }
  const auto vidx = at::tensor(keep_val, at::kLong);
  sub.val.images = val.images.index_select(0, vidx);
  sub.val.labels = val.labels.index_select(0, vidx);
  EXPECT_TRUE(audit_balance(sub).empty());
}

// ---------------------------------------------------------------- run_checks
/// A small dataset with one of every per-image fault: NaN and Inf pixels, constants, a noise
/// image, a bad label, duplicates within train (one with a conflicting label) and across splits.
data::Dataset faulty_dataset() {
  auto ds = smooth_dataset(800, 200, 1);
  ds.train.images[3][0][2][2] = std::nanf("");
  ds.train.images[13][0][0][0] = INFINITY;
  ds.train.images[7].fill_(0.0);
  ds.train.images[11].fill_(42.0);
  ds.train.labels[20] = 4;
  ds.val.images[5].fill_(255.0);
  ds.val.images[6][0][1][1] = -INFINITY;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  ds.train.images[50].copy_(at::randint(0, 256, {1, 8, 8}, gen).to(at::kFloat));
  ds.train.images[10].copy_(ds.train.images[1]);  // labels 2 vs 1: conflict
  ds.train.images[30].copy_(ds.train.images[2] + 0.5);
  ds.val.images[3].copy_(ds.train.images[40]);  // leakage (same label)
  ds.val.labels[3] = ds.train.labels[40].item<int64_t>();
  return ds;
}

void expect_same(const Finding& a, const Finding& b) {
  EXPECT_EQ(a.cause, b.cause);
  EXPECT_EQ(a.severity, b.severity);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(a.evidence, b.evidence);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.fix, b.fix);
}

TEST(RunChecks, SharedStatisticsGiveTheIndividualChecksResults) {
  const auto ds = faulty_dataset();
  spec::DataSpec s;
  s.shuffle = false;
  std::vector<AuditNote> notes;
  std::vector<Finding> expected = audit_integrity(ds);
  for (auto more : {audit_outliers(ds), audit_duplicates(ds, &notes), audit_ordering(ds, false),
                    audit_preparation(ds, s), audit_balance(ds)}) {
    expected.insert(expected.end(), more.begin(), more.end());
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  const auto r = run_checks(ds, s);
  // Every per-image check fires on this dataset, so the comparison covers the shared pass.
  ASSERT_EQ(r.findings.size(), expected.size());
  EXPECT_GE(r.findings.size(), 3u);
  for (size_t i = 0; i < expected.size(); ++i) expect_same(r.findings[i], expected[i]);
  ASSERT_EQ(r.notes.size(), notes.size());
  for (size_t i = 0; i < notes.size(); ++i) {
    EXPECT_EQ(r.notes[i].text, notes[i].text);
    EXPECT_EQ(r.notes[i].samples, notes[i].samples);
  }
  EXPECT_EQ(flagged(r.findings, "corrupt_samples"), (std::set<int64_t>{3, 7, 11, 13, 20, 50}));
  EXPECT_EQ(flagged(r.findings, "label_noise"), (std::set<int64_t>{1, 10}));
}

TEST(RunChecks, ReportsEveryPhaseInOrder) {
  const auto r = run_checks(faulty_dataset(), spec::DataSpec{});
  std::vector<std::string> names;
  for (const auto& [name, seconds] : r.phase_seconds) {
    names.push_back(name);
    EXPECT_GE(seconds, 0.0);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"stats", "integrity", "outliers", "duplicates",
                                             "ordering", "preparation", "balance", "noise share"}));
}

TEST(RunChecks, ChannelsAndOddSizesAgreeToo) {
  // 3 channels, 5×7 (odd width, fewer pixels than a lane multiple in the last row).
  data::Dataset ds;
  ds.num_classes = 3;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  ds.train.images =
      at::upsample_bilinear2d(at::rand({300, 3, 3, 4}, gen) * 200.0 + 20.0, {5, 7}, false)
          .contiguous();
  ds.train.labels = at::arange(300, at::kLong).remainder(3);
  ds.train.images[8][1][4][6] = std::nanf("");
  ds.train.images[9].fill_(7.0);
  ds.train.images[12].copy_(at::randint(0, 256, {3, 5, 7}, gen).to(at::kFloat));
  spec::DataSpec s;
  const auto r = run_checks(ds, s);
  auto expected = audit_integrity(ds);
  auto out = audit_outliers(ds);
  expected.insert(expected.end(), out.begin(), out.end());
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  std::vector<Finding> got;
  for (const auto& f : r.findings) {
    if (f.cause == "corrupt_samples") got.push_back(f);
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], expected[i]);
  EXPECT_EQ(flagged(got, "corrupt_samples"), (std::set<int64_t>{8, 9, 12}));
}

// ---------------------------------------------------------------- Fashion-MNIST
const char* kFashion = "/usr/share/datasets/fashion-mnist";

spec::DataSpec fashion_spec(int64_t train_limit, int64_t val_limit) {
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Idx;
  s.path = kFashion;
  s.train.images = "train-images-idx3-ubyte.gz";
  s.train.labels = "train-labels-idx1-ubyte.gz";
  s.train.limit = train_limit;
  s.train.present = true;
  s.val.images = "t10k-images-idx3-ubyte.gz";
  s.val.labels = "t10k-labels-idx1-ubyte.gz";
  s.val.limit = val_limit;
  s.val.present = true;
  s.train_transforms = {scale(1.0 / 255), normalize(0.286, 0.353)};
  return s;
}

#define REQUIRE_FASHION() \
  if (!std::filesystem::exists(kFashion)) GTEST_SKIP() << "no " << kFashion

class FashionCorrupt : public ::testing::TestWithParam<spec::InjectSpec::CorruptKind> {};

TEST_P(FashionCorrupt, RecallAndPrecision) {
  REQUIRE_FASHION();
  auto s = fashion_spec(12000, 2000);
  s.inject.corrupt = 0.02;
  s.inject.corrupt_kind = GetParam();
  auto ds = data::load_dataset(s, 0);
  std::set<int64_t> truth(ds.injected.corrupt.begin(), ds.injected.corrupt.end());
  AuditOptions opt;
  opt.max_samples = 100000;
  if (const char* z = std::getenv("AUDIT_Z")) opt.outlier_z = std::atof(z);
  if (const char* z = std::getenv("AUDIT_HFZ")) opt.outlier_hf_z = std::atof(z);
  auto fs = audit_integrity(ds, opt);
  auto more = audit_outliers(ds, opt);
  fs.insert(fs.end(), more.begin(), more.end());
  auto got = flagged(fs, "corrupt_samples");
  int64_t hit = 0;
  for (auto i : got) hit += truth.count(i);
  const double recall = static_cast<double>(hit) / truth.size();
  const double precision = got.empty() ? 0.0 : static_cast<double>(hit) / got.size();
  std::printf("[audit] corrupt kind %d: %zu injected, %zu flagged, recall %.4f precision %.4f\n",
              static_cast<int>(GetParam()), truth.size(), got.size(), recall, precision);
  for (auto& f : fs) {
    for (auto& e : f.evidence) std::printf("[audit]   %s\n", e.c_str());
  }
  EXPECT_GE(recall, 0.99);
  EXPECT_GE(precision, 0.95);
}

INSTANTIATE_TEST_SUITE_P(Kinds, FashionCorrupt,
                         ::testing::Values(spec::InjectSpec::CorruptKind::Zeros,
                                           spec::InjectSpec::CorruptKind::Noise,
                                           spec::InjectSpec::CorruptKind::Saturate,
                                           spec::InjectSpec::CorruptKind::NaN));

TEST(Fashion, CleanFullDataFewOutliersAndThroughput) {
  REQUIRE_FASHION();
  auto s = fashion_spec(60000, 10000);
  auto ds = data::load_dataset(s, 0);
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_checks(ds, s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  at::set_num_threads(threads);
  const int64_t n = ds.train.size() + ds.val.size();
  std::printf("[audit] run_checks on %lld images: %.2f s, %.0f images/s (2 threads)\n",
              static_cast<long long>(n), secs, n / secs);
  int64_t outliers = 0;
  for (const auto& f : r.findings) {
    std::printf("[audit] finding %s %.2f: %s\n", f.cause.c_str(), f.confidence,
                f.evidence.empty() ? "" : f.evidence[0].c_str());
    if (f.cause == "corrupt_samples") outliers += static_cast<int64_t>(f.samples.size());
    EXPECT_NE(f.cause, "unshuffled_data");
    EXPECT_NE(f.cause, "preprocessing_mismatch");
    EXPECT_NE(f.cause, "class_imbalance");
  }
  for (const auto& note : r.notes) std::printf("[audit] note: %s\n", note.text.c_str());
  std::printf("[audit] clean Fashion-MNIST: %lld of %lld train images flagged as corrupt/outlier\n",
              static_cast<long long>(outliers), static_cast<long long>(ds.train.size()));
  EXPECT_LT(outliers, ds.train.size() / 100);
}

TEST(Fashion, SortedUnshuffledValMismatchAndDroppedClasses) {
  REQUIRE_FASHION();
  auto s = fashion_spec(6000, 1000);
  s.shuffle = false;
  s.inject.sort_by_label = true;
  s.inject.drop_classes = {3, 7};
  s.inject.drop_fraction = 0.9;
  s.val_transforms = {scale(1.0 / 255)};
  s.val_transforms_given = true;
  auto ds = data::load_dataset(s, 0);
  auto r = run_checks(ds, s);
  std::set<std::string> causes;
  for (const auto& f : r.findings) causes.insert(f.cause);
  EXPECT_TRUE(causes.count("unshuffled_data"));
  EXPECT_TRUE(causes.count("preprocessing_mismatch"));
  EXPECT_TRUE(causes.count("class_imbalance"));
  for (size_t i = 1; i < r.findings.size(); ++i) {
    EXPECT_GE(r.findings[i - 1].confidence, r.findings[i].confidence);
  }
}

}  // namespace
}  // namespace lossdoctor::audit::test
