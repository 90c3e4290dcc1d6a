#include "lossdoctor/diagnose/detectors.hpp"

#include <algorithm>

namespace lossdoctor::diagnose {

const std::vector<Detector>& detectors() {
  // In symptom_ids() order (src/lossdoctor/report/ids.cpp).
  static const std::vector<Detector> all = {
      {"nan_loss", &detect_nan_loss},
      {"diverging_loss", &detect_diverging_loss},
      {"loss_spikes", &detect_loss_spikes},
      {"oscillating_loss", &detect_oscillating_loss},
      {"plateau_at_chance", &detect_plateau_at_chance},
      {"slow_convergence", &detect_slow_convergence},
      {"bad_initial_loss", &detect_bad_initial_loss},
      {"exploding_gradient", &detect_exploding_gradient},
      {"vanishing_gradient", &detect_vanishing_gradient},
      {"dead_units", &detect_dead_units},
      {"saturated_units", &detect_saturated_units},
      {"unchanged_weights", &detect_unchanged_weights},
      {"update_ratio_out_of_range", &detect_update_ratio_out_of_range},
      {"noisy_gradient", &detect_noisy_gradient},
      {"batch_label_runs", &detect_batch_label_runs},
      {"split_stats_mismatch", &detect_split_stats_mismatch},
      {"overfitting", &detect_overfitting},
  };
  return all;
}

std::vector<Symptom> detect_symptoms(const RunRecord& record) {
  std::vector<Symptom> out;
  for (const auto& d : detectors()) {
    auto found = d.detect(record);
    for (auto& s : found) out.push_back(std::move(s));
  }
  // Stable: symptoms of the same step keep detector (symptom_ids) order.
  std::stable_sort(out.begin(), out.end(),
                   [](const Symptom& a, const Symptom& b) { return a.step < b.step; });
  return out;
}

}  // namespace lossdoctor::diagnose
