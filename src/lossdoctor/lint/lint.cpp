#include "lossdoctor/lint/lint.hpp"

#include <algorithm>

#include "lossdoctor/lint/rules/rules.hpp"

namespace lossdoctor::lint {

const std::vector<LintRule>& lint_rules() {
  using namespace rules;
  static const std::vector<LintRule> all = {
      {"softmax-into-logits-loss", "loss_output_mismatch", softmax_into_logits_loss},
      {"probability-loss-on-scores", "loss_output_mismatch", probability_loss_on_scores},
      {"nll-without-log-softmax", "loss_output_mismatch", nll_without_log_softmax},
      {"regression-loss-on-classes", "loss_output_mismatch", regression_loss_on_classes},
      {"activation-on-logits", "loss_output_mismatch", activation_on_logits},
      {"lr-too-high", "lr_too_high", lr_too_high},
      {"lr-too-low", "lr_too_low", lr_too_low},
      {"batch-size-one", "batch_too_small", batch_size_one},
      {"small-batch-batchnorm", "batch_too_small", small_batch_batchnorm},
      {"optimizer-hyperparameters", "optimizer_misconfigured", optimizer_hyperparameters},
      {"heavy-weight-decay", "excessive_regularization", heavy_weight_decay},
      {"clip-too-tight", "grad_clip_too_tight", clip_too_tight},
      {"schedule-gamma-above-one", "bad_lr_schedule", schedule_gamma_above_one},
      {"schedule-decays-to-nothing", "bad_lr_schedule", schedule_decays_to_nothing},
      {"unnormalized-input", "unnormalized_input", unnormalized_input},
      {"double-scaling", "unnormalized_input", double_scaling},
      {"val-transforms-mismatch", "preprocessing_mismatch", val_transforms_mismatch},
      {"unshuffled-data", "unshuffled_data", unshuffled_data},
      {"deep-relu-without-batchnorm", "missing_normalization", deep_relu_without_batchnorm},
      {"deep-saturating-stack", "saturating_activation", deep_saturating_stack},
      {"heavy-dropout", "excessive_regularization", heavy_dropout},
      {"symmetric-init", "bad_init_scale", symmetric_init},
      {"init-scale", "bad_init_scale", init_scale},
      {"negative-bias-relu", "bad_init_scale", negative_bias_relu},
      {"dense-bottleneck", "insufficient_capacity", dense_bottleneck},
      {"spatial-collapse", "insufficient_capacity", spatial_collapse},
      {"narrow-convolution", "insufficient_capacity", narrow_convolution},
      {"lr-scaled-without-warmup", "lr_not_scaled_for_global_batch", lr_scaled_without_warmup},
  };
  return all;
}

LintResult lint_spec(const spec::Spec& spec, const LintContext& context) {
  LintResult result;
  for (const auto& rule : lint_rules()) rule.check(spec, context, result);
  std::stable_sort(result.findings.begin(), result.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     const bool ea = a.severity == "error", eb = b.severity == "error";
                     if (ea != eb) return ea;
                     return a.confidence > b.confidence;
                   });
  return result;
}

}  // namespace lossdoctor::lint
