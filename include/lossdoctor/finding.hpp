#pragma once
// What the doctor reports: symptoms (observations) and findings (causes with evidence).
// Ids are the contract of design.md; their JSON form is in report/report.hpp. No torch here.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lossdoctor {

/// Something observed in the RunRecord.
struct Symptom {
  std::string id;       ///< a symptom id: nan_loss, diverging_loss, ... (see symptom_ids())
  int64_t step = -1;    ///< first step it was seen (-1: not tied to a step)
  std::string layer;    ///< empty when not tied to a layer
  double value = 0;     ///< the headline number (meaning depends on the id; see docs/diagnoses.md)
  double severity = 0;  ///< 0..1, how far past its threshold
  std::vector<std::string> evidence;  ///< human-readable numbers behind it
  /// The signal is fading at the last step and may clear as the run goes on (a climb whose loss
  /// is already back below its start): an early stop does not rest on it. Not in the JSON.
  bool receding = false;
};

/// A suspected or proven cause.
struct Finding {
  std::string cause;                 ///< a cause id (see cause_ids())
  double confidence = 0;             ///< 0..1
  std::string status = "suspected";  ///< suspected | confirmed | refuted
  std::optional<int64_t> first_step;
  std::string layer;  ///< empty → null in JSON
  std::vector<std::string> symptoms;
  std::vector<std::string> evidence;
  std::string explanation;  ///< why this raises the loss, two sentences
  /// Spec overrides that remove the cause: key.path → value as YAML text (e.g. "0.001", "true").
  std::map<std::string, std::string> fix;
  std::string severity = "error";  ///< lint: error | warning | info
  std::vector<int64_t> samples;    ///< audit: flagged sample indices (perhaps only the first)
  int64_t samples_omitted = 0;     ///< flagged samples left out of `samples` (side files hold all)
};

/// All cause ids of design.md, in documentation order.
const std::vector<std::string>& cause_ids();
/// All symptom ids of design.md.
const std::vector<std::string>& symptom_ids();

}  // namespace lossdoctor
