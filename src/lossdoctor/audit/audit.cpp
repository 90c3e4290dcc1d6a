#include "lossdoctor/audit/audit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/data/pipeline.hpp"
#include "lossdoctor/train/runnable.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::audit {
namespace {

namespace fs = std::filesystem;

constexpr double kUnhealthyConfidence = 0.5;
constexpr int64_t kMinLabelCheckSamples = 200;  ///< too few samples for k-fold training
constexpr double kReportedNoiseRate = 0.02;     ///< estimated label noise worth a finding
constexpr int kSheetColumns = 12;               ///< images per finding on the contact sheet
constexpr int kSheetCell = 64;                  ///< pixels per image on the sheet

/// The training images as the audit's own small CNN wants them: the spec's deterministic
/// preparation, then standardised per channel over finite values (non-finite pixels → 0), so the
/// check works whatever the spec's normalisation (or lack of it).
at::Tensor standardised_train_images(const data::Dataset& ds, const spec::DataSpec& spec) {
  return data::standardise_channels(
      data::make_train_pipeline(spec).prepare(ds.train.images).to(at::kFloat));
}

/// [C, H, W] raw values → 8-bit BGR, non-finite images shown red.
cv::Mat to_bgr(const at::Tensor& image) {
  at::Tensor img = image.to(at::kFloat);
  const at::Tensor finite = at::isfinite(img);
  img = at::where(finite, img, at::zeros_like(img)).clamp(0, 255).to(at::kByte);
  const at::Tensor hwc =
      (img.size(0) == 1 ? img.repeat({3, 1, 1}) : img).permute({1, 2, 0}).contiguous();
  const cv::Mat m(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3,
                  hwc.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
  if (!finite.all().item<bool>()) bgr.setTo(cv::Scalar(0, 0, 255));
  return bgr;
}

std::string base64(const std::vector<uchar>& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b = (uint32_t{bytes[i]} << 16) |
                       (i + 1 < bytes.size() ? uint32_t{bytes[i + 1]} << 8 : 0) |
                       (i + 2 < bytes.size() ? uint32_t{bytes[i + 2]} : 0);
    out += kAlphabet[(b >> 18) & 63];
    out += kAlphabet[(b >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(b >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[b & 63] : '=';
  }
  return out;
}

constexpr size_t kGalleryPerFinding = 24;  ///< flagged images per finding in the HTML gallery

/// The HTML report's view of the audit (AuditRunOptions::view).
void fill_view(report::AuditView& v, const data::Dataset& ds, const std::vector<Finding>& findings,
               const std::map<int64_t, int64_t>& suggested, const LabelIssues& issues) {
  const auto name = [&](int64_t c) { return class_name(ds, c); };
  std::set<int64_t> shown;
  for (const auto& f : findings) {
    size_t taken = 0;
    for (int64_t index : f.samples) {
      if (taken >= kGalleryPerFinding) break;
      if (index < 0 || index >= ds.train.images.size(0) || !shown.insert(index).second) continue;
      std::vector<uchar> png;
      if (!cv::imencode(".png", to_bgr(ds.train.images[index]), png)) continue;
      report::GalleryImage g;
      g.index = index;
      g.png_base64 = base64(png);
      g.given = name(ds.train.labels[index].item<int64_t>());
      const auto s = suggested.find(index);
      if (s != suggested.end()) g.suggested = name(s->second);
      g.reason = f.cause;
      v.flagged.push_back(std::move(g));
      ++taken;
    }
  }
  v.class_names = ds.class_names;
  if (ds.num_classes >= 1) {
    v.train_class_counts = class_counts(ds.train, ds.num_classes);
    v.val_class_counts = class_counts(ds.val, ds.num_classes);
  }
  const auto stats = [](const data::Split& s) -> std::optional<SplitStats> {
    if (s.size() == 0) return std::nullopt;
    const data::ChannelMoments m = data::finite_channel_moments(s.images.to(at::kFloat));
    SplitStats out;
    for (int64_t c = 0; c < m.mean.numel(); ++c) {
      out.channel_mean.push_back(m.mean[c].item<double>());
      out.channel_std.push_back(m.std[c].item<double>());
    }
    out.samples = s.size();
    return out;
  };
  v.train_stats = stats(ds.train);
  v.val_stats = stats(ds.val);
  if (issues.noise_matrix.defined()) {
    const at::Tensor q = issues.noise_matrix.to(at::kDouble).contiguous();
    for (int64_t i = 0; i < q.size(0); ++i) {
      std::vector<double> row;
      for (int64_t j = 0; j < q.size(1); ++j) row.push_back(q[i][j].item<double>());
      v.noise_matrix.push_back(std::move(row));
    }
  }
}

/// One row of up to kSheetColumns images per finding, labelled "index given→suggested".
void write_contact_sheet(const std::string& path, const data::Dataset& ds,
                         const std::vector<Finding>& findings,
                         const std::map<int64_t, int64_t>& suggested) {
  std::vector<const Finding*> rows;
  for (const auto& f : findings) {
    if (!f.samples.empty()) rows.push_back(&f);
  }
  if (rows.empty()) return;
  const int title = 18, caption = 14;
  const int row_height = title + kSheetCell + caption;
  cv::Mat sheet(static_cast<int>(rows.size()) * row_height, kSheetColumns * kSheetCell, CV_8UC3,
                cv::Scalar(255, 255, 255));
  const at::Tensor images = ds.train.images;
  for (size_t r = 0; r < rows.size(); ++r) {
    const Finding& f = *rows[r];
    const int y0 = static_cast<int>(r) * row_height;
    cv::putText(sheet, fmt::format("{} ({} flagged)", f.cause, f.samples.size()), {4, y0 + 13},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 160), 1);
    for (size_t c = 0; c < f.samples.size() && c < static_cast<size_t>(kSheetColumns); ++c) {
      const int64_t index = f.samples[c];
      if (index < 0 || index >= images.size(0)) continue;
      const cv::Mat bgr = to_bgr(images[index]);
      cv::Mat cell;
      cv::resize(bgr, cell, {kSheetCell, kSheetCell}, 0, 0, cv::INTER_NEAREST);
      cell.copyTo(
          sheet(cv::Rect(static_cast<int>(c) * kSheetCell, y0 + title, kSheetCell, kSheetCell)));
      const int64_t given = ds.train.labels[index].item<int64_t>();
      const auto s = suggested.find(index);
      const std::string text = s == suggested.end()
                                   ? fmt::format("{} y={}", index, given)
                                   : fmt::format("{} {}>{}", index, given, s->second);
      cv::putText(sheet, text, {static_cast<int>(c) * kSheetCell + 1, y0 + title + kSheetCell + 11},
                  cv::FONT_HERSHEY_SIMPLEX, 0.3, cv::Scalar(0, 0, 0), 1);
    }
  }
  write_atomic_with(path, [&](const std::string& tmp) {
    std::vector<uchar> png;
    if (!cv::imencode(".png", sheet, png))
      throw InputError(path + ": cannot encode the contact sheet");
    write_file_atomic(tmp, std::string(png.begin(), png.end()));
  });
}

/// One row per training sample: its out-of-sample self-confidence and the label check's verdict,
/// so a user (or a benchmark) can re-rank or re-threshold without rerunning the folds.
std::string label_scores_csv(const LabelIssues& issues, const at::Tensor& labels,
                             const std::vector<int64_t>& source_index) {
  const at::Tensor p = issues.pred_probs.to(at::kDouble).contiguous();
  const at::Tensor y = labels.to(at::kLong).contiguous();
  const int64_t n = p.size(0), k = p.size(1);
  const double* P = p.data_ptr<double>();
  const int64_t* Y = y.data_ptr<int64_t>();
  std::vector<int64_t> rank(static_cast<size_t>(n), -1);
  for (size_t r = 0; r < issues.suspects.size(); ++r) rank[issues.suspects[r]] = r;
  std::vector<char> dropped(static_cast<size_t>(n), 0);
  for (int64_t s : issues.refit_dropped) dropped[static_cast<size_t>(s)] = 1;
  std::string out =
      "position,source_index,given,p_given,suggested,p_suggested,suspect_rank,refit_dropped\n";
  for (int64_t s = 0; s < n; ++s) {
    int64_t arg = 0;
    for (int64_t j = 1; j < k; ++j) {
      if (P[s * k + j] > P[s * k + arg]) arg = j;
    }
    out += fmt::format("{},{},{},{:.6g},{},{:.6g},{},{}\n", s, source_index[static_cast<size_t>(s)],
                       Y[s], P[s * k + Y[s]], arg, P[s * k + arg], rank[static_cast<size_t>(s)],
                       static_cast<int>(dropped[static_cast<size_t>(s)]));
  }
  return out;
}

/// The estimated joint P(given = row, true = column) as a share of all samples, with class names.
std::string noise_matrix_csv(const LabelIssues& issues, const std::vector<std::string>& names) {
  const at::Tensor q = issues.noise_matrix.to(at::kDouble).contiguous();
  const int64_t k = q.size(0);
  const double* Q = q.data_ptr<double>();
  std::string out = "given\\true";
  for (int64_t j = 0; j < k; ++j) out += "," + names[static_cast<size_t>(j)];
  out += "\n";
  for (int64_t i = 0; i < k; ++i) {
    out += names[static_cast<size_t>(i)];
    for (int64_t j = 0; j < k; ++j) out += fmt::format(",{:.6f}", Q[i * k + j]);
    out += "\n";
  }
  return out;
}

}  // namespace

void list_only_suspected_duplicates(std::vector<Finding>& findings, const LabelIssues& issues) {
  const std::set<int64_t> suspects(issues.suspects.begin(), issues.suspects.end());
  for (auto& f : findings) {
    if (f.cause != "label_noise" || f.samples.empty()) continue;
    std::vector<int64_t> kept;
    for (int64_t pos : f.samples) {
      if (suspects.count(pos)) kept.push_back(pos);
    }
    f.evidence.push_back(fmt::format(
        "the label check also suspects {} of these {} images (out-of-sample P(given) below "
        "chance); only those are listed, the others are most likely the correctly labelled copy",
        kept.size(), f.samples.size()));
    f.samples = std::move(kept);
  }
}

std::set<int64_t> positions_to_exclude(const std::vector<Finding>& data_check_findings,
                                       const LabelIssues& issues, bool label_finding_reported,
                                       double exclude_below) {
  std::vector<Finding> findings = data_check_findings;
  if (issues.pred_probs.defined()) list_only_suspected_duplicates(findings, issues);
  std::set<int64_t> positions;
  for (const auto& f : findings) {
    if (f.cause == "corrupt_samples" || f.cause == "label_noise") {
      positions.insert(f.samples.begin(), f.samples.end());
    }
  }
  if (label_finding_reported) {
    for (size_t i = 0; i < issues.suspects.size() && i < issues.self_confidence.size(); ++i) {
      if (issues.self_confidence[i] < exclude_below) positions.insert(issues.suspects[i]);
    }
    positions.insert(issues.refit_dropped.begin(), issues.refit_dropped.end());
  }
  return positions;
}

report::Report run_audit(const spec::Spec& spec, const AuditRunOptions& options,
                         const data::WarningSink& warn) {
  const data::Dataset ds = data::load_dataset(spec.data, spec.seed, warn);
  train::check_runnable(spec, ds);  // the same answer as validate: the spec must be runnable
  const auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  say(fmt::format("audit: {} training and {} validation images, {} classes", ds.train.size(),
                  ds.val.size(), ds.num_classes));
  // Every flagged sample, not the first max_samples: exclude.txt must drop them all (an audit
  // of 6000 images with 2100 flagged once wrote 1254). Only the report is abbreviated, at the end.
  AuditOptions uncapped = options.checks;
  uncapped.max_samples = std::numeric_limits<size_t>::max();
  AuditResult checks = run_checks(ds, spec.data, uncapped);
  report::Report r;
  r.command = "audit";
  r.spec = spec.file;
  r.findings = checks.findings;
  // Parallel to r.findings: 1 for the findings the report abbreviates (all but the label
  // check's own, which lists every suspect).
  std::vector<char> abbreviated(r.findings.size(), 1);
  for (const auto& n : checks.notes) r.notes.push_back(n.text);
  if (const std::string note = data::skipped_images_note(ds); !note.empty()) {
    r.notes.push_back(note);
  }

  if (options.label_agreement) {
    say("audit: label agreement across the splits (models fitted to the validation labels)");
    const LabelAgreement agreement = measure_label_agreement(ds, spec.data, options.agreement);
    r.notes.push_back(label_agreement_note(agreement));
    if (auto f = label_agreement_finding(agreement, options.agreement,
                                         std::numeric_limits<size_t>::max())) {
      r.findings.push_back(std::move(*f));
      abbreviated.push_back(1);
    }
  }

  std::map<int64_t, int64_t> suggested;
  LabelIssues issues;
  bool label_finding_reported = false;
  if (options.label_issues && ds.train.size() >= kMinLabelCheckSamples && ds.num_classes >= 2) {
    say(fmt::format("audit: cross-validated label check ({} folds × {} epochs)",
                    options.labels.folds, options.labels.epochs));
    issues = find_label_issues(standardised_train_images(ds, spec.data), ds.train.labels,
                               ds.num_classes, options.labels, options.progress);
    list_only_suspected_duplicates(r.findings, issues);  // before the label check's own finding
    if (!issues.suspects.empty() && issues.estimated_noise_rate >= kReportedNoiseRate) {
      // Every suspect, not the first max_samples (a benchmark scores the finding against every
      // injected flip); exclude.txt takes only the confident ones (positions_to_exclude).
      Finding finding = label_noise_finding(issues, ds.num_classes, issues.suspects.size());
      // The label check's share of exclude.txt: no data-check findings, finding reported.
      const size_t confident = positions_to_exclude({}, issues, true, options.exclude_below).size();
      finding.evidence.push_back(fmt::format(
          "{} samples confidently mislabelled (out-of-sample P(given) < {:g}{}): only those go to "
          "the exclude file",
          confident, options.exclude_below,
          issues.refit_dropped.empty()
              ? ""
              : fmt::format(", or < {:g} in the first round: {} samples the refit trained without",
                            options.labels.refit_drop_below, issues.refit_dropped.size())));
      r.findings.push_back(std::move(finding));
      abbreviated.push_back(0);
      label_finding_reported = true;
      for (size_t i = 0; i < issues.suspects.size() && i < issues.suggested.size(); ++i) {
        suggested[issues.suspects[i]] = issues.suggested[i];
      }
    } else {
      r.notes.push_back(
          fmt::format("label check: estimated label noise {:.1f}%, {} suspects: nothing to report",
                      100 * issues.estimated_noise_rate, issues.suspects.size()));
    }
  }
  {  // by confidence, `abbreviated` following
    std::vector<size_t> order(r.findings.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return r.findings[a].confidence > r.findings[b].confidence;
    });
    std::vector<Finding> sorted;
    std::vector<char> flags;
    for (size_t i : order) {
      sorted.push_back(std::move(r.findings[i]));
      flags.push_back(abbreviated[i]);
    }
    r.findings = std::move(sorted);
    abbreviated = std::move(flags);
  }
  for (auto& f : r.findings) f.status = "suspected";
  r.verdict = std::any_of(r.findings.begin(), r.findings.end(),
                          [](const Finding& f) { return f.confidence >= kUnhealthyConfidence; })
                  ? "unhealthy"
                  : "healthy";
  if (spec.data.inject.any()) {
    r.injected["label_noise"] = ds.injected.label_noise;
    r.injected["corrupt"] = ds.injected.corrupt;
  }

  if (options.view != nullptr) fill_view(*options.view, ds, r.findings, suggested, issues);
  if (!options.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.out_dir, ec);
    if (ec) throw InputError(options.out_dir + ": cannot create output directory: " + ec.message());
    // Source indices, which is what data.train.exclude reads (stable across limit and inject).
    std::set<int64_t> exclude;
    for (int64_t pos : positions_to_exclude(checks.findings, issues, label_finding_reported,
                                            options.exclude_below)) {
      if (pos >= 0 && pos < static_cast<int64_t>(ds.train.source_index.size())) {
        exclude.insert(ds.train.source_index[static_cast<size_t>(pos)]);
      }
    }
    std::string text = fmt::format(
        "# lossdoctor audit {}: {} training samples to exclude (source indices): corrupt ones and\n"
        "# confident label suspects (out-of-sample P(given) < {:g}; all suspects: "
        "label_scores.csv);\n"
        "# use with --set data.train.exclude={}\n",
        spec.file, exclude.size(), options.exclude_below,
        (fs::path(options.out_dir) / "exclude.txt").string());
    for (int64_t i : exclude) text += std::to_string(i) + "\n";
    const std::string exclude_path = (fs::path(options.out_dir) / "exclude.txt").string();
    write_file_atomic(exclude_path, text);
    const fs::path scores_path = fs::path(options.out_dir) / "label_scores.csv";
    const fs::path matrix_path = fs::path(options.out_dir) / "label_noise_matrix.csv";
    if (issues.pred_probs.defined()) {
      write_file_atomic(scores_path.string(),
                        label_scores_csv(issues, ds.train.labels, ds.train.source_index));
      write_file_atomic(matrix_path.string(), noise_matrix_csv(issues, ds.class_names));
    } else {
      // No label check this time: scores left by an earlier audit would not match exclude.txt.
      fs::remove(scores_path, ec);
      fs::remove(matrix_path, ec);
    }
    write_contact_sheet((fs::path(options.out_dir) / "contact_sheet.png").string(), ds, r.findings,
                        suggested);
    for (auto& f : r.findings) {
      if ((f.cause == "corrupt_samples" || f.cause == "label_noise") && !f.samples.empty()) {
        f.fix["data.train.exclude"] = exclude_path;
      }
    }
  }
  // The files above hold every flagged sample; the report lists max_samples per finding and says
  // how many it left out.
  for (size_t i = 0; i < r.findings.size(); ++i) {
    if (!abbreviated[i]) continue;
    Finding& f = r.findings[i];
    const bool in_file =
        !options.out_dir.empty() && (f.cause == "corrupt_samples" || f.cause == "label_noise");
    abbreviate_samples(f, options.checks.max_samples,
                       in_file ? "the exclude file holds every one" : "");
  }
  return r;
}

}  // namespace lossdoctor::audit
