#pragma once
// `diagnose --tensorboard DIR`: the diagnosis run and each confirmation arm as TensorBoard runs
// (one sub-folder each, so TensorBoard overlays their curves), written after the run from the
// RunRecord and the report. Pure: plain records in, event files out (util/event_writer.hpp).
// Tags are listed in docs/tensorboard.md.
//
// Contract:
//   write_diagnose_events:
//     requires: `report` and `record` are one diagnosis (doctor::diagnose_and_confirm).
//     ensures:  DIR/diagnosis/ holds one event file with the run's per-step scalars (train/*),
//               per-epoch scalars (epoch/*, val/*), the yardstick's validation points
//               (yardstick/*, when confirmation ran), per-layer probe scalars
//               (layers/<layer name>/<statistic>) at each probe step, per-sample histograms at
//               the last step (samples/*), and the report as text (report, findings). Each
//               confirmation arm that trained gets DIR/<arm_run_name>/ with train/loss,
//               yardstick/val_loss and yardstick/val_accuracy, and its outcome as text
//               (confirmation). Unmeasured values (NaN update norms, missing layers) are left
//               out; a non-finite loss is written as it is.
//     throws:   InputError naming the file when a folder or file cannot be written.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::report {

/// What was written: one event file per run.
struct EventFiles {
  std::vector<std::string> files;  ///< event file paths, the diagnosis first
  int64_t events = 0;              ///< events in all files (file-version events included)
  int64_t bytes = 0;
};

/// The run (sub-folder) name of a confirmation arm: its causes joined by '+', with every
/// character outside [A-Za-z0-9_.+-] replaced by '_' ("arm" when it names no cause).
std::string arm_run_name(const ConfirmationArm& arm);

/// The findings as a Markdown table (cause, status, confidence, first step, layer, fix).
std::string findings_markdown(const Report& report);

EventFiles write_diagnose_events(const std::string& dir, const Report& report,
                                 const RunRecord& record);

/// `audit --tensorboard DIR`: DIR/audit/ gets the contact sheet (`contact_sheet_png`, PNG bytes;
/// empty: none) as the image audit/contact_sheet, the flagged samples per cause as scalars
/// (audit/flagged/<cause>) and as a Markdown table (text audit/flagged), and the findings and
/// report as text (findings, report). Throws InputError when the PNG's size cannot be read.
EventFiles write_audit_events(const std::string& dir, const Report& report,
                              const std::string& contact_sheet_png);

/// Width, height and channels of PNG bytes (from the IHDR chunk); nullopt when not a PNG.
struct PngSize {
  int width = 0, height = 0, channels = 0;
};
std::optional<PngSize> png_size(const std::string& png);

}  // namespace lossdoctor::report
