#pragma once
// Symptom detectors: pure functions of a RunRecord, one unit per symptom id.
//
// Contract (every detector):
//   requires: nothing beyond a well-formed RunRecord (series may be short or empty).
//   ensures:  returns zero or more Symptoms of its own id, each with the step where it first
//             held, the layer when it applies, a headline value, a severity in [0, 1] and
//             evidence strings carrying the numbers. Silent on healthy runs: noisy SGD with a
//             falling trend, staircase schedules, label smoothing, heavy augmentation, short
//             runs. Deterministic, no I/O, no torch.

#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

using DetectorFn = std::vector<Symptom> (*)(const RunRecord&);

struct Detector {
  std::string id;  ///< the symptom id it emits
  DetectorFn detect;
};

/// Every detector, in symptom_ids() order.
const std::vector<Detector>& detectors();

/// Runs every detector; symptoms sorted by first step.
std::vector<Symptom> detect_symptoms(const RunRecord& record);

// One function per symptom id (src/lossdoctor/diagnose/detectors/<id>.cpp).
std::vector<Symptom> detect_nan_loss(const RunRecord&);
std::vector<Symptom> detect_diverging_loss(const RunRecord&);
/// For a climb the run has put behind it (no diverging_loss symptom for that reason): a note
/// with its numbers — how far the loss climbed, over which steps, and since when it has stayed
/// below the recovery level. "" otherwise (no climb, or a climb that is still divergence).
std::string recovered_climb_note(const RunRecord&);
std::vector<Symptom> detect_loss_spikes(const RunRecord&);
std::vector<Symptom> detect_oscillating_loss(const RunRecord&);
std::vector<Symptom> detect_plateau_at_chance(const RunRecord&);
std::vector<Symptom> detect_slow_convergence(const RunRecord&);
std::vector<Symptom> detect_bad_initial_loss(const RunRecord&);
std::vector<Symptom> detect_exploding_gradient(const RunRecord&);
std::vector<Symptom> detect_vanishing_gradient(const RunRecord&);
std::vector<Symptom> detect_dead_units(const RunRecord&);
std::vector<Symptom> detect_saturated_units(const RunRecord&);
std::vector<Symptom> detect_unchanged_weights(const RunRecord&);
std::vector<Symptom> detect_update_ratio_out_of_range(const RunRecord&);
/// Whether an update_ratio_out_of_range symptom says the updates are too large (its worst layer
/// overshoots) rather than too small: evidence for a high rate, against a low one.
bool update_ratio_too_large(const Symptom& update_ratio_out_of_range);
std::vector<Symptom> detect_noisy_gradient(const RunRecord&);
std::vector<Symptom> detect_batch_label_runs(const RunRecord&);
std::vector<Symptom> detect_split_stats_mismatch(const RunRecord&);
std::vector<Symptom> detect_overfitting(const RunRecord&);

}  // namespace lossdoctor::diagnose
