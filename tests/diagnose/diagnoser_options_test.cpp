// DiagnoserOptions against docs/diagnoses.md: every "`field` (default X)" the page names is a
// field with that default, every field is documented, and each cause section's symptom list is
// that cause's column of the symptom table. The numbers cannot drift apart. No torch.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "lossdoctor/diagnose/diagnoser.hpp"

namespace lossdoctor::diagnose {
namespace {

std::string read_doc() {
  std::ifstream in(std::string(LOSSDOCTOR_SOURCE_DIR) + "/docs/diagnoses.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Every numeric field of DiagnoserOptions by the name the docs use, with its value in `o`.
std::map<std::string, double> fields(const DiagnoserOptions& o) {
  const auto d = [](auto v) { return static_cast<double>(v); };
  return {
      {"report_threshold", o.report_threshold},
      {"hard_symptom_report_threshold", o.hard_symptom_report_threshold},
      {"verdict.unhealthy_confidence", o.verdict.unhealthy_confidence},
      {"healthy_confidence_without_suspicion", o.healthy_confidence_without_suspicion},
      {"screen_threshold", o.screen_threshold},
      {"max_evidence_weight", o.max_evidence_weight},
      {"symptom_severity_floor", o.symptom_severity_floor},
      {"stalled_min_steps", d(o.stalled_min_steps)},
      {"stalled_chance_fraction", o.stalled_chance_fraction},
      {"update_ratio_min_steps", d(o.update_ratio_min_steps)},
      {"small_update_ratio", o.small_update_ratio},
      {"static_findings.weight", o.static_findings.weight},
      {"static_findings.definite_weight", o.static_findings.definite_weight},
      {"static_findings.shown_in_training_error", o.static_findings.shown_in_training_error},
      {"static_findings.shown_in_training_warning", o.static_findings.shown_in_training_warning},
      {"static_findings.shown_in_training_info", o.static_findings.shown_in_training_info},
      {"static_findings.trains_normally_penalty", o.static_findings.trains_normally_penalty},
      {"unnormalized_input.raw_max_abs", o.unnormalized_input.raw_max_abs},
      {"unnormalized_input.tiny_max_abs", o.unnormalized_input.tiny_max_abs},
      {"unnormalized_input.raw", o.unnormalized_input.raw},
      {"unnormalized_input.raw_unstable_or_stalled", o.unnormalized_input.raw_unstable_or_stalled},
      {"unnormalized_input.tiny", o.unnormalized_input.tiny},
      {"unnormalized_input.tiny_stalled", o.unnormalized_input.tiny_stalled},
      {"corrupt_samples.nan_in_input", o.corrupt_samples.nan_in_input},
      {"corrupt_samples.odd_input_fraction", o.corrupt_samples.odd_input_fraction},
      {"corrupt_samples.odd_input_weight_per_fraction",
       o.corrupt_samples.odd_input_weight_per_fraction},
      {"corrupt_samples.odd_input_max_weight", o.corrupt_samples.odd_input_max_weight},
      {"corrupt_samples.noise_like_harder_margin", o.corrupt_samples.noise_like_harder_margin},
      {"corrupt_samples.clean_above_chance_z", o.corrupt_samples.clean_above_chance_z},
      {"corrupt_samples.noise_like_data_share", o.corrupt_samples.noise_like_data_share},
      {"corrupt_samples.noise_like_excess_z", o.corrupt_samples.noise_like_excess_z},
      {"corrupt_samples.flagged_predictable_penalty",
       o.corrupt_samples.flagged_predictable_penalty},
      {"class_imbalance.class_ratio", o.class_imbalance.class_ratio},
      {"class_imbalance.labels_per_class", d(o.class_imbalance.labels_per_class)},
      {"class_imbalance.weight_per_ratio", o.class_imbalance.weight_per_ratio},
      {"class_imbalance.max_weight", o.class_imbalance.max_weight},
      {"label_noise.accuracy_gap", o.label_noise.accuracy_gap},
      {"label_noise.contradicted_fraction", o.label_noise.contradicted_fraction},
      {"label_noise.high_loss_fraction", o.label_noise.high_loss_fraction},
      {"label_noise.heavy_gap", o.label_noise.heavy_gap},
      {"label_noise.base", o.label_noise.base},
      {"label_noise.per_gap", o.label_noise.per_gap},
      {"label_noise.per_high_loss", o.label_noise.per_high_loss},
      {"label_noise.max_weight", o.label_noise.max_weight},
      {"label_noise.high_loss_note", o.label_noise.high_loss_note},
      {"label_noise.agreement_min_learned_z", o.label_noise.agreement_min_learned_z},
      {"label_noise.agreement_max_gap_z", o.label_noise.agreement_max_gap_z},
      {"label_noise.no_agreement_gap_penalty", o.label_noise.no_agreement_gap_penalty},
      {"lr_too_high.large_update_ratio", o.lr_too_high.large_update_ratio},
      {"lr_too_high.update_ratio", o.lr_too_high.update_ratio},
      {"lr_too_high.update_ratio_unstable", o.lr_too_high.update_ratio_unstable},
      {"lr_too_high.update_ratio_symptom", o.lr_too_high.update_ratio_symptom},
      {"lr_too_high.first_update_jump", o.lr_too_high.first_update_jump},
      {"lr_too_high.first_update_jump_chance_multiple",
       o.lr_too_high.first_update_jump_chance_multiple},
      {"lr_too_high.first_update_jump_weight", o.lr_too_high.first_update_jump_weight},
      {"lr_too_high.first_update_ratio", o.lr_too_high.first_update_ratio},
      {"lr_too_high.first_update_ratio_weight", o.lr_too_high.first_update_ratio_weight},
      {"lr_too_high.weight_norm_growth", o.lr_too_high.weight_norm_growth},
      {"lr_too_high.weight_norm_growth_weight", o.lr_too_high.weight_norm_growth_weight},
      {"lr_too_high.above_usual_range", o.lr_too_high.above_usual_range},
      {"lr_too_high.unnormalized_input_penalty", o.lr_too_high.unnormalized_input_penalty},
      {"lr_too_high.nan_from_input_penalty", o.lr_too_high.nan_from_input_penalty},
      {"lr_too_high.bad_initial_loss_penalty", o.lr_too_high.bad_initial_loss_penalty},
      {"lr_too_high.gradients_not_reset_penalty", o.lr_too_high.gradients_not_reset_penalty},
      {"lr_too_high.erratic_batch_size", d(o.lr_too_high.erratic_batch_size)},
      {"lr_too_high.erratic_batch_penalty", o.lr_too_high.erratic_batch_penalty},
      {"lr_too_low.max_zero_update_fraction", o.lr_too_low.max_zero_update_fraction},
      {"lr_too_low.small_updates", o.lr_too_low.small_updates},
      {"lr_too_low.tiny_updates", o.lr_too_low.tiny_updates},
      {"lr_too_low.tiny_update_ratio", o.lr_too_low.tiny_update_ratio},
      {"lr_too_low.stalled_bonus", o.lr_too_low.stalled_bonus},
      {"lr_too_low.update_ratio_symptom", o.lr_too_low.update_ratio_symptom},
      {"lr_too_low.below_usual_range", o.lr_too_low.below_usual_range},
      {"lr_too_low.vanishing_gradient_penalty", o.lr_too_low.vanishing_gradient_penalty},
      {"lr_too_low.zero_updates_penalty", o.lr_too_low.zero_updates_penalty},
      {"lr_too_low.schedule_shrink_ratio", o.lr_too_low.schedule_shrink_ratio},
      {"lr_too_low.schedule_shrank_penalty", o.lr_too_low.schedule_shrank_penalty},
      {"lr_too_low.usual_rate_penalty", o.lr_too_low.usual_rate_penalty},
      {"params_not_updated.zero_update_fraction", o.params_not_updated.zero_update_fraction},
      {"params_not_updated.weight", o.params_not_updated.weight},
      {"gradients_not_reset.grad_change_ratio", o.gradients_not_reset.grad_change_ratio},
      {"gradients_not_reset.grad_norm_growth", o.gradients_not_reset.grad_norm_growth},
      {"gradients_not_reset.min_steps", d(o.gradients_not_reset.min_steps)},
      {"gradients_not_reset.weight", o.gradients_not_reset.weight},
      {"loss_sign_flipped.negated_fraction", o.loss_sign_flipped.negated_fraction},
      {"loss_sign_flipped.negated_weight", o.loss_sign_flipped.negated_weight},
      {"loss_sign_flipped.negative_loss", o.loss_sign_flipped.negative_loss},
      {"loss_sign_flipped.negative_loss_weight", o.loss_sign_flipped.negative_loss_weight},
      {"bad_lr_schedule.growth", o.bad_lr_schedule.growth},
      {"bad_lr_schedule.growth_weight", o.bad_lr_schedule.growth_weight},
      {"bad_lr_schedule.growth_weight_unstable", o.bad_lr_schedule.growth_weight_unstable},
      {"bad_lr_schedule.never_reached", o.bad_lr_schedule.never_reached},
      {"bad_lr_schedule.decay", o.bad_lr_schedule.decay},
      {"bad_lr_schedule.frozen_fraction", o.bad_lr_schedule.frozen_fraction},
      {"bad_lr_schedule.decay_min_steps", d(o.bad_lr_schedule.decay_min_steps)},
      {"bad_lr_schedule.decay_weight", o.bad_lr_schedule.decay_weight},
      {"bad_init_scale.zero_weights", o.bad_init_scale.zero_weights},
      {"bad_init_scale.activation_growth", o.bad_init_scale.activation_growth},
      {"bad_init_scale.activation_shrink", o.bad_init_scale.activation_shrink},
      {"bad_init_scale.min_weight_layers", d(o.bad_init_scale.min_weight_layers)},
      {"bad_init_scale.activation_weight", o.bad_init_scale.activation_weight},
      {"bad_init_scale.gradients_not_reset_penalty", o.bad_init_scale.gradients_not_reset_penalty},
      {"bad_init_scale.regularization_penalty", o.bad_init_scale.regularization_penalty},
      {"batch_too_small.small_batch", d(o.batch_too_small.small_batch)},
      {"batch_too_small.small_batch_weight", o.batch_too_small.small_batch_weight},
      {"batch_too_small.tiny_batch_weight", o.batch_too_small.tiny_batch_weight},
      {"batch_too_small.tiny_batch", d(o.batch_too_small.tiny_batch)},
      {"batch_too_small.large_batch", d(o.batch_too_small.large_batch)},
      {"batch_too_small.large_batch_penalty", o.batch_too_small.large_batch_penalty},
      {"grad_clip_too_tight.min_steps", d(o.grad_clip_too_tight.min_steps)},
      {"grad_clip_too_tight.clipped_ratio", o.grad_clip_too_tight.clipped_ratio},
      {"grad_clip_too_tight.weight", o.grad_clip_too_tight.weight},
      {"grad_clip_too_tight.weight_stalled", o.grad_clip_too_tight.weight_stalled},
      {"grad_clip_too_tight.screen_ratio", o.grad_clip_too_tight.screen_ratio},
      {"grad_clip_too_tight.screen_weight", o.grad_clip_too_tight.screen_weight},
      {"missing_normalization.deep", d(o.missing_normalization.deep)},
      {"missing_normalization.weight", o.missing_normalization.weight},
      {"missing_normalization.shallow", d(o.missing_normalization.shallow)},
      {"missing_normalization.shallow_penalty", o.missing_normalization.shallow_penalty},
      {"saturating_activation.no_saturating_layer_penalty",
       o.saturating_activation.no_saturating_layer_penalty},
      {"saturating_activation.unsaturated_tanh_penalty",
       o.saturating_activation.unsaturated_tanh_penalty},
      {"model_in_eval_mode.eval_fraction", o.model_in_eval_mode.eval_fraction},
      {"gradients_not_reset.not_reset_fraction", o.gradients_not_reset.not_reset_fraction},
      {"gradients_not_reset.not_reset_weight", o.gradients_not_reset.not_reset_weight},
      {"model_in_eval_mode.weight", o.model_in_eval_mode.weight},
      {"loop_outputs.probability_fraction", o.loop_outputs.probability_fraction},
      {"loop_outputs.probability_weight", o.loop_outputs.probability_weight},
      {"loop_outputs.labels_out_of_range_weight", o.loop_outputs.labels_out_of_range_weight},
      // Data-parallel causes.
      {"same_data_on_every_rank.min_steps", d(o.same_data_on_every_rank.min_steps)},
      {"same_data_on_every_rank.same_batch_fraction",
       o.same_data_on_every_rank.same_batch_fraction},
      {"same_data_on_every_rank.weight", o.same_data_on_every_rank.weight},
      {"same_data_on_every_rank.same_histogram_fraction",
       o.same_data_on_every_rank.same_histogram_fraction},
      {"same_data_on_every_rank.loss_tolerance", o.same_data_on_every_rank.loss_tolerance},
      {"same_data_on_every_rank.histogram_weight", o.same_data_on_every_rank.histogram_weight},
      {"shard_not_reshuffled.min_pairs", d(o.shard_not_reshuffled.min_pairs)},
      {"shard_not_reshuffled.repeat_fraction", o.shard_not_reshuffled.repeat_fraction},
      {"shard_not_reshuffled.weight", o.shard_not_reshuffled.weight},
      {"replicas_diverged.relative_tolerance", o.replicas_diverged.relative_tolerance},
      {"replicas_diverged.weight", o.replicas_diverged.weight},
      {"rank_specific_data_fault.min_steps", d(o.rank_specific_data_fault.min_steps)},
      {"rank_specific_data_fault.highest_fraction", o.rank_specific_data_fault.highest_fraction},
      {"rank_specific_data_fault.loss_ratio", o.rank_specific_data_fault.loss_ratio},
      {"rank_specific_data_fault.weight", o.rank_specific_data_fault.weight},
      {"rank_specific_data_fault.strong_bonus", o.rank_specific_data_fault.strong_bonus},
      {"lr_not_scaled_for_global_batch.min_world_size",
       d(o.lr_not_scaled_for_global_batch.min_world_size)},
      {"lr_not_scaled_for_global_batch.unscaled_slow",
       o.lr_not_scaled_for_global_batch.unscaled_slow},
      {"lr_not_scaled_for_global_batch.stalled_bonus",
       o.lr_not_scaled_for_global_batch.stalled_bonus},
      {"lr_not_scaled_for_global_batch.shortfall_bonus",
       o.lr_not_scaled_for_global_batch.shortfall_bonus},
      {"lr_not_scaled_for_global_batch.overshoot_update_ratio",
       o.lr_not_scaled_for_global_batch.overshoot_update_ratio},
      {"lr_not_scaled_for_global_batch.scaled_unstable",
       o.lr_not_scaled_for_global_batch.scaled_unstable},
      {"lr_not_scaled_for_global_batch.early_steps",
       d(o.lr_not_scaled_for_global_batch.early_steps)},
      {"lr_not_scaled_for_global_batch.early_bonus", o.lr_not_scaled_for_global_batch.early_bonus},
      {"straggler.time_ratio", o.straggler.time_ratio},
      {"straggler.min_seconds", o.straggler.min_seconds},
  };
}

/// Fields that order evidence lines but weigh nothing: not worth a line in the docs.
const std::set<std::string> kUndocumented = {"label_noise.high_loss_note"};

TEST(DiagnoserOptionsDocs, EveryDefaultTheDocsNameIsTheCodesDefault) {
  const std::string doc = read_doc();
  const auto known = fields(DiagnoserOptions{});
  // "`field` (default X" or "(`field`, default X"; the name may wrap onto the next line.
  const std::regex mention(
      R"(`([a-z_]+(?:\.[a-z_]+)?)`(?:\s+\(|,\s+)default\s+(-?[0-9.]+(?:e-?[0-9]+)?))");
  std::set<std::string> documented;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), mention);
       it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    const double value = std::stod((*it)[2]);
    const auto f = known.find(name);
    if (f == known.end()) {
      ADD_FAILURE() << "docs/diagnoses.md names `" << name << "`, not a DiagnoserOptions field";
      continue;
    }
    EXPECT_NEAR(value, f->second, 1e-12 * std::max(1.0, std::abs(f->second)))
        << "`" << name << "`: docs say default " << (*it)[2] << ", the code " << f->second;
    documented.insert(name);
  }
  for (const auto& [name, value] : known) {
    if (kUndocumented.count(name) == 0) {
      EXPECT_TRUE(documented.count(name))
          << "`" << name << "` (" << value << ") is not in the docs";
    }
  }
}

TEST(DiagnoserOptionsDocs, EachCauseSectionListsItsColumnOfTheSymptomTable) {
  const std::string doc = read_doc();
  const DiagnoserOptions options;
  for (const auto& cause : cause_ids()) {
    if (cause == "healthy") continue;
    std::map<std::string, double> column;
    for (const auto& [symptom, row] : options.symptom_weights) {
      for (const auto& [c, w] : row) {
        if (c == cause) column[symptom] = w;
      }
    }
    const size_t start = doc.find("### `" + cause + "`");
    ASSERT_NE(start, std::string::npos) << cause;
    const size_t end = doc.find("\n##", start + 1);
    const std::string section = doc.substr(start, end - start);
    const std::string marker = "**Symptoms** (`symptom_weights`):";
    const size_t list = section.find(marker);
    ASSERT_NE(list, std::string::npos) << cause << ": no symptom list in its section";
    const size_t list_end = section.find("**", list + marker.size());
    const std::string text = section.substr(list + marker.size(), list_end - list - marker.size());
    std::map<std::string, double> listed;
    const std::regex pair(R"(`([a-z_]+)`\s+([0-9.]+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pair);
         it != std::sregex_iterator(); ++it) {
      listed[(*it)[1]] = std::stod((*it)[2]);
    }
    EXPECT_EQ(listed, column) << cause << ": docs list \"" << text << "\"";
    if (column.empty()) {
      EXPECT_NE(text.find("none"), std::string::npos) << cause;
    }
  }
}

}  // namespace
}  // namespace lossdoctor::diagnose
