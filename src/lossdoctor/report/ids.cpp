#include "lossdoctor/finding.hpp"
#include "lossdoctor/report/causes.hpp"

namespace lossdoctor {

const std::vector<std::string>& cause_ids() {
  // The causes table (report/causes.hpp) is the one list; its order is design.md's.
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> out;
    for (const auto& c : report::cause_table()) out.push_back(c.id);
    return out;
  }();
  return ids;
}

const std::vector<std::string>& symptom_ids() {
  static const std::vector<std::string> ids = {"nan_loss",
                                               "diverging_loss",
                                               "loss_spikes",
                                               "oscillating_loss",
                                               "plateau_at_chance",
                                               "slow_convergence",
                                               "bad_initial_loss",
                                               "exploding_gradient",
                                               "vanishing_gradient",
                                               "dead_units",
                                               "saturated_units",
                                               "unchanged_weights",
                                               "update_ratio_out_of_range",
                                               "noisy_gradient",
                                               "batch_label_runs",
                                               "split_stats_mismatch",
                                               "overfitting"};
  return ids;
}

}  // namespace lossdoctor
