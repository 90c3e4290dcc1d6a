#include "lossdoctor/finding.hpp"

namespace lossdoctor {

const std::vector<std::string>& cause_ids() {
  static const std::vector<std::string> ids = {
      // data
      "label_noise", "corrupt_samples", "preprocessing_mismatch", "unnormalized_input",
      "unshuffled_data", "class_imbalance",
      // network
      "bad_init_scale", "missing_normalization", "saturating_activation", "insufficient_capacity",
      "loss_output_mismatch",
      // optimisation
      "lr_too_high", "lr_too_low", "batch_too_small", "optimizer_misconfigured", "bad_lr_schedule",
      "excessive_regularization", "grad_clip_too_tight",
      // training-loop code
      "gradients_not_reset", "params_not_updated", "loss_sign_flipped",
      // no fault
      "healthy"};
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
