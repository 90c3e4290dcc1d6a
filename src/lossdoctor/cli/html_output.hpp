#pragma once
// `--html FILE` for the commands: the pieces every command's HTML report shares (the command
// line that reproduces the run, the resolved spec, the atomic write) and the conversions of each
// command's results into report::HtmlReport parts.

#include <string>
#include <vector>

#include "lossdoctor/doctor/repair.hpp"
#include "lossdoctor/experiment/lr_find.hpp"
#include "lossdoctor/report/html.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::cli {

/// argv as one shell line, each argument quoted when it needs to be.
std::string command_line(int argc, char** argv);

/// The spec file with the command's overrides applied, as YAML ("" when it cannot be read).
std::string resolved_spec(const std::string& path, const std::vector<std::string>& overrides);

/// Renders `html` and writes it to `path` atomically.
void write_html(const std::string& path, const report::HtmlReport& html);

/// A RunRecord of a plain training run (loss, lr, gradient norm per step; the epochs): what
/// `train --html` draws.
RunRecord record_of(const train::Trainer& trainer);

report::LrSweepView lr_sweep_view(const experiment::LrFindResult& result);

/// The original and repaired runs of repair's before/after comparison.
std::vector<report::RunView> repair_views(const doctor::RepairResult& result);

}  // namespace lossdoctor::cli
