#pragma once
// The HTML report: one self-contained file (no network, no CDN; opens from disk, prints to PDF)
// that shows a result as pictures without losing a number. The findings table, the loss curve
// (raw and smoothed, log toggle, finding markers, chance level ln K, validation points, learning
// rate on a second axis), per-layer heatmaps over steps, the confirmation arms overlaid on the
// diagnosis run, repair's before/after, the lr-find sweep, the audit's gallery and statistics,
// the resolved spec and the command line. Charts are drawn by a small script of the project's
// own (hover values, drag to zoom, double-click to reset), from data embedded in the file.
//
// Contract:
//   requires: `report` set; every other part optional (a section appears when its data does).
//   ensures:  a complete HTML5 document; all text escaped; series longer than
//             kMaxCurvePoints are downsampled for drawing (min and max per bucket, so spikes
//             stay visible) while the tables keep every value (rounded for reading: 4
//             significant digits); heatmaps keep at most
//             kMaxHeatmapColumns probe columns. A 10 000-step run stays under 2 MB. Script errors
//             in a viewer are caught and shown on the page (body[data-errors]). No torch.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::report {

constexpr size_t kMaxCurvePoints = 2000;
constexpr size_t kMaxHeatmapColumns = 200;

/// The learning-rate range test (lr-find).
struct LrSweepView {
  std::vector<double> lrs, losses;
  std::vector<double> trend;  ///< smoothed loss per point (NaN where not analysed)
  std::optional<double> suggestion, divergence_lr;
  std::string summary;  ///< one line: how the suggestion was chosen
};

/// One training run of repair's before/after comparison.
struct RunView {
  std::string label;  ///< "original", "repaired"
  std::vector<double> train_loss;
  std::vector<EpochSample> epochs;
  double val_loss = 0, val_accuracy = 0;  ///< at the end (NaN: not measured)
};

struct GalleryImage {
  int64_t index = 0;       ///< position in the training split
  std::string png_base64;  ///< the image as the model sees it, PNG, base64
  std::string given, suggested;
  std::string reason;
};

/// What the audit found in the data itself.
struct AuditView {
  std::vector<GalleryImage> flagged;
  std::vector<int64_t> train_class_counts, val_class_counts;
  std::optional<SplitStats> train_stats, val_stats;
  /// Estimated joint P(given label = row, true label = column) (the whole matrix sums to 1;
  /// label_noise_matrix.csv holds the same numbers), or empty.
  std::vector<std::vector<double>> noise_matrix;
  /// Class names by index (folder names, or "0".."9"); empty or short: indices are shown.
  std::vector<std::string> class_names;
};

struct HtmlReport {
  std::string title;
  std::string command_line;  ///< the command that reproduces the run
  std::string spec_yaml;     ///< the resolved spec (empty: no spec, e.g. a log)
  const Report* report = nullptr;
  const RunRecord* record = nullptr;  ///< the diagnosed or trained run
  std::optional<LrSweepView> lr_find;
  std::vector<RunView> repair_runs;  ///< original and repaired, when repair ran
  std::optional<AuditView> audit;
};

/// The whole HTML document.
std::string render_html(const HtmlReport& html);

/// Downsamples (x, y) points to at most `max_points` for drawing: per bucket, the first point,
/// the minimum and the maximum in x order (non-finite y kept as they are: they are findings).
std::vector<std::pair<double, double>> downsample(const std::vector<std::pair<double, double>>& xy,
                                                  size_t max_points);

}  // namespace lossdoctor::report
