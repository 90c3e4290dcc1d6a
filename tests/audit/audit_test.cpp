// run_audit end to end on a Fashion-MNIST subset with injected faults: the report names them,
// exclude.txt holds source indices the spec can consume, and the contact sheet is written.

#include "lossdoctor/audit/audit.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::audit {
namespace {

namespace fs = std::filesystem;

const char* kSpec = R"(
seed: 3
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 3000}
  val: {limit: 500}
  transforms:
    train: [{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
  inject: {label_noise: {fraction: 0.2}, corrupt: {fraction: 0.02, kind: nan}}
model:
  layers: [{flatten: {}}, {dense: {units: 10}}]
)";

bool have_fashion_mnist() {
  return fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}

const Finding* find(const report::Report& r, const std::string& cause) {
  for (const auto& f : r.findings) {
    if (f.cause == cause) return &f;
  }
  return nullptr;
}

TEST(Audit, NamesInjectedFaultsAndWritesAnExcludeFileTheSpecCanUse) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const fs::path out =
      fs::temp_directory_path() / ("lossdoctor_audit_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const spec::Spec spec = spec::parse_spec_text(kSpec, "audit.yaml");
  AuditRunOptions options;
  options.out_dir = out.string();
  const report::Report r = run_audit(spec, options);

  EXPECT_EQ(r.verdict, "unhealthy");
  const Finding* corrupt = find(r, "corrupt_samples");
  ASSERT_NE(corrupt, nullptr);
  const std::set<int64_t> flagged(corrupt->samples.begin(), corrupt->samples.end());
  ASSERT_EQ(r.injected.at("corrupt").size(), 60u);
  for (int64_t i : r.injected.at("corrupt")) EXPECT_TRUE(flagged.count(i)) << "NaN image " << i;
  const Finding* noise = find(r, "label_noise");
  ASSERT_NE(noise, nullptr);
  const std::set<int64_t> noisy(r.injected.at("label_noise").begin(),
                                r.injected.at("label_noise").end());
  int64_t hits = 0;
  for (int64_t i : noise->samples) hits += noisy.count(i);
  EXPECT_GT(static_cast<double>(hits) / static_cast<double>(noise->samples.size()), 0.6)
      << "most label suspects are injected flips";
  EXPECT_EQ(noise->fix.at("data.train.exclude"), (out / "exclude.txt").string());
  EXPECT_TRUE(fs::exists(out / "contact_sheet.png"));
  EXPECT_GT(fs::file_size(out / "contact_sheet.png"), 1000u);

  // The exclude file holds source indices: read back by the spec, none of them is loaded again.
  std::ifstream in(out / "exclude.txt");
  std::string line;
  std::set<int64_t> excluded;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') excluded.insert(std::stoll(line));
  }
  EXPECT_GT(excluded.size(), 60u);
  // Retraining on the cleaned set keeps the same subset with the same (noisy) labels, minus the
  // excluded samples.
  const spec::Spec again = spec::parse_spec_text(
      kSpec, "audit.yaml", {"data.train.exclude=" + (out / "exclude.txt").string()});
  const data::Dataset loaded = data::load_dataset(spec.data, spec.seed);
  const data::Dataset cleaned = data::load_dataset(again.data, again.seed);
  EXPECT_EQ(cleaned.train.size(), 3000 - static_cast<int64_t>(excluded.size()));
  std::map<int64_t, int64_t> noisy_label;
  for (int64_t p = 0; p < loaded.train.size(); ++p) {
    noisy_label[loaded.train.source_index[p]] = loaded.train.labels[p].item<int64_t>();
  }
  for (int64_t p = 0; p < cleaned.train.size(); ++p) {
    const int64_t source = cleaned.train.source_index[p];
    ASSERT_EQ(excluded.count(source), 0u) << source;
    EXPECT_EQ(cleaned.train.labels[p].item<int64_t>(), noisy_label.at(source)) << source;
  }
  size_t flips_excluded = 0;
  for (int64_t p : r.injected.at("label_noise")) {
    flips_excluded += excluded.count(loaded.train.source_index[static_cast<size_t>(p)]);
  }
  // Only the confident suspects are excluded: fewer than the finding lists, and purer.
  EXPECT_LT(excluded.size(), flagged.size() + noise->samples.size());
  EXPECT_GT(static_cast<double>(flips_excluded) / static_cast<double>(excluded.size() - 60), 0.8)
      << "the excluded label suspects are mostly injected flips";
  EXPECT_EQ(cleaned.injected.label_noise.size() + flips_excluded,
            r.injected.at("label_noise").size())
      << "the flips left are exactly those the audit did not exclude";

  // Per-sample scores and the per-class-pair noise matrix.
  std::ifstream scores(out / "label_scores.csv");
  std::getline(scores, line);
  EXPECT_EQ(line,
            "position,source_index,given,p_given,suggested,p_suggested,suspect_rank,refit_dropped");
  int64_t rows = 0;
  std::set<int64_t> suspects, refit_dropped;
  while (std::getline(scores, line)) {
    const size_t last = line.rfind(','), rank = line.rfind(',', last - 1);
    if (line.substr(rank + 1, last - rank - 1) != "-1") suspects.insert(rows);
    if (line.substr(last + 1) == "1") refit_dropped.insert(rows);
    ++rows;
  }
  // The refit round trained without round 1's confident suspects: they are excluded too.
  EXPECT_GT(refit_dropped.size(), 100u);
  for (int64_t p : refit_dropped) {
    EXPECT_TRUE(excluded.count(loaded.train.source_index[static_cast<size_t>(p)])) << p;
  }
  EXPECT_EQ(rows, 3000);
  EXPECT_EQ(suspects.size(), noise->samples.size());
  // Every label_noise finding (the duplicate check's too) lists only samples the label check
  // suspects.
  for (const auto& f : r.findings) {
    if (f.cause != "label_noise") continue;
    for (int64_t s : f.samples) EXPECT_TRUE(suspects.count(s)) << s;
  }
  std::ifstream matrix(out / "label_noise_matrix.csv");
  rows = 0;
  while (std::getline(matrix, line)) ++rows;
  EXPECT_EQ(rows, 11);
  bool pairs_reported = false;
  for (const auto& e : noise->evidence) {
    pairs_reported |= e.find("per class pair") != std::string::npos;
  }
  EXPECT_TRUE(pairs_reported);
  fs::remove_all(out);
}

Finding finding_with(const std::string& cause, std::vector<int64_t> samples) {
  Finding f;
  f.cause = cause;
  f.samples = std::move(samples);
  return f;
}

TEST(PositionsToExclude, ConfidentSuspectsAndOnlyTheSuspectedMembersOfConflictingDuplicates) {
  LabelIssues issues;
  issues.suspects = {7, 3, 9};  // most suspicious first
  issues.self_confidence = {0.01, 0.04, 0.08};
  issues.pred_probs = at::zeros({12, 2});
  const std::vector<Finding> checks = {
      finding_with("corrupt_samples", {0, 1}),
      finding_with("label_noise", {9, 10}),  // a conflicting pair: 9 suspected, 10 not
      finding_with("class_imbalance", {11})};
  EXPECT_EQ(positions_to_exclude(checks, issues, true, 0.05), (std::set<int64_t>{0, 1, 3, 7, 9}));
  EXPECT_EQ(positions_to_exclude(checks, issues, true, 0.02), (std::set<int64_t>{0, 1, 7, 9}));
  EXPECT_EQ(positions_to_exclude(checks, issues, true, 1.0), (std::set<int64_t>{0, 1, 3, 7, 9}));
  // No label finding (noise estimate too low to report): the suspects stay in the file only
  // through a conflicting duplicate group.
  EXPECT_EQ(positions_to_exclude(checks, issues, false, 0.05), (std::set<int64_t>{0, 1, 9}));
  // Without a label check there is no model to ask: every member of a conflicting group.
  EXPECT_EQ(positions_to_exclude(checks, LabelIssues{}, false, 0.05),
            (std::set<int64_t>{0, 1, 9, 10}));
}

TEST(PositionsToExclude, TakesTheSamplesTheRefitRoundTrainedWithout) {
  LabelIssues issues;
  issues.suspects = {7, 3};
  issues.self_confidence = {0.01, 0.08};
  issues.pred_probs = at::zeros({12, 2});
  issues.refit_dropped = {5, 7};  // round 1 was sure about 5; the refit is not
  const std::vector<Finding> checks = {finding_with("corrupt_samples", {0})};
  EXPECT_EQ(positions_to_exclude(checks, issues, true, 0.05), (std::set<int64_t>{0, 5, 7}));
  EXPECT_EQ(positions_to_exclude(checks, issues, false, 0.05), (std::set<int64_t>{0}))
      << "no label finding reported: no label suspects at all";
}

TEST(ListOnlySuspectedDuplicates, KeepsTheMembersTheLabelCheckSuspectsAndSaysHowMany) {
  LabelIssues issues;
  issues.suspects = {10, 4, 7};
  std::vector<Finding> findings = {finding_with("label_noise", {3, 4, 9, 10}),
                                   finding_with("corrupt_samples", {3, 4})};
  list_only_suspected_duplicates(findings, issues);
  EXPECT_EQ(findings[0].samples, (std::vector<int64_t>{4, 10}));
  ASSERT_FALSE(findings[0].evidence.empty());
  EXPECT_NE(findings[0].evidence.back().find("2 of these 4"), std::string::npos)
      << findings[0].evidence.back();
  EXPECT_EQ(findings[1].samples, (std::vector<int64_t>{3, 4})) << "other causes are left alone";
  EXPECT_TRUE(findings[1].evidence.empty());
}

TEST(Audit, CleanSubsetWithoutLabelCheckIsQuiet) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const spec::Spec spec = spec::parse_spec_text(kSpec, "audit.yaml", {"data.inject={}"});
  const fs::path out =
      fs::temp_directory_path() / ("lossdoctor_audit_quiet_" + std::to_string(::getpid()));
  fs::remove_all(out);
  fs::create_directories(out);
  std::ofstream(out / "label_scores.csv") << "left by an earlier audit\n";
  AuditRunOptions options;
  options.label_issues = false;
  options.out_dir = out.string();
  const report::Report r = run_audit(spec, options);
  for (const auto& f : r.findings) {
    EXPECT_NE(f.cause, "unshuffled_data");
    EXPECT_NE(f.cause, "preprocessing_mismatch");
    EXPECT_NE(f.cause, "class_imbalance");
  }
  EXPECT_TRUE(r.injected.empty());
  EXPECT_TRUE(fs::exists(out / "exclude.txt"));
  EXPECT_FALSE(fs::exists(out / "label_scores.csv"))
      << "no label check: an earlier audit's scores must not stay next to this exclude.txt";
  fs::remove_all(out);
}

}  // namespace
}  // namespace lossdoctor::audit
