#include "lossdoctor/diagnose/rules/rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace lossdoctor::diagnose {

const std::vector<CauseRule>& cause_rules() {
  // In cause_ids() order (src/lossdoctor/report/ids.cpp). A nullptr rule: the cause has no
  // record signal of its own; the symptom table and lint/audit findings are its evidence.
  static const std::vector<CauseRule> all = {
      {"label_noise", &rule_label_noise},
      {"corrupt_samples", &rule_corrupt_samples},
      {"preprocessing_mismatch", nullptr},  // split_stats_mismatch; lint, audit
      {"unnormalized_input", &rule_unnormalized_input},
      {"unshuffled_data", nullptr},  // batch_label_runs; lint, audit
      {"class_imbalance", &rule_class_imbalance},
      {"bad_init_scale", &rule_bad_init_scale},
      {"missing_normalization", &rule_missing_normalization},
      {"saturating_activation", &rule_saturating_activation},
      {"insufficient_capacity", nullptr},  // plateau_at_chance, slow_convergence; lint
      {"loss_output_mismatch", &rule_loss_output_mismatch},  // + stall symptoms; lint (definite)
      {"lr_too_high", &rule_lr_too_high},
      {"lr_too_low", &rule_lr_too_low},
      {"batch_too_small", &rule_batch_too_small},
      {"optimizer_misconfigured", nullptr},  // oscillation and stall symptoms; lint
      {"bad_lr_schedule", &rule_bad_lr_schedule},
      {"excessive_regularization", nullptr},  // stall symptoms; lint
      {"grad_clip_too_tight", &rule_grad_clip_too_tight},
      {"gradients_not_reset", &rule_gradients_not_reset},
      {"params_not_updated", &rule_params_not_updated},
      {"loss_sign_flipped", &rule_loss_sign_flipped},
      {"model_in_eval_mode", &rule_model_in_eval_mode},
      {"same_data_on_every_rank", &rule_same_data_on_every_rank},
      {"shard_not_reshuffled", &rule_shard_not_reshuffled},
      {"rank_specific_data_fault", &rule_rank_specific_data_fault},
      {"lr_not_scaled_for_global_batch", &rule_lr_not_scaled_for_global_batch},
      {"replicas_diverged", &rule_replicas_diverged},
  };
  return all;
}

void run_cause_rules(const RuleContext& ctx, Collector& out) {
  for (const auto& rule : cause_rules()) {
    if (rule.apply != nullptr) rule.apply(ctx, out);
  }
}

// ---------------------------------------------------------------------------------------------

bool RuleContext::has(const std::string& symptom_id) const { return find(symptom_id) != nullptr; }

const Symptom* RuleContext::find(const std::string& symptom_id) const {
  for (const auto& s : symptoms) {
    if (s.id == symptom_id) return &s;
  }
  return nullptr;
}

bool RuleContext::lint_has(const std::string& cause) const {
  return std::any_of(lint.begin(), lint.end(), [&](const Finding& f) { return f.cause == cause; });
}

RuleContext make_rule_context(const RunRecord& record, const RecordSignals& signals,
                              const std::vector<Symptom>& symptoms,
                              const std::vector<Finding>& lint, const std::vector<Finding>& audit,
                              const DiagnoserOptions& options) {
  RuleContext ctx{record, signals, symptoms, lint, audit, options};
  const auto any_of = [&](const std::vector<std::string>& ids) {
    return std::any_of(ids.begin(), ids.end(), [&](const std::string& id) { return ctx.has(id); });
  };
  const RecordSignals& sig = signals;
  ctx.unstable = any_of(options.unstable_symptoms);
  // Not learning: a stall symptom, or a classifier still above chance loss after
  // stalled_min_steps steps.
  const bool above_chance = std::isfinite(sig.chance_loss) &&
                            sig.steps >= options.stalled_min_steps &&
                            std::isfinite(sig.final_loss) &&
                            sig.final_loss > options.stalled_chance_fraction * sig.chance_loss;
  ctx.stalled = any_of(options.stalled_symptoms) || above_chance;
  ctx.sluggish = std::isfinite(sig.median_update_ratio) &&
                 sig.steps >= options.update_ratio_min_steps &&
                 sig.median_update_ratio < options.small_update_ratio;
  return ctx;
}

// ---------------------------------------------------------------------------------------------

Candidate::Candidate(std::string cause_id, double max_weight, double severity_floor)
    : cause(std::move(cause_id)), max_weight_(max_weight), severity_floor_(severity_floor) {}

void Candidate::weigh(double weight) { miss_ *= 1.0 - std::clamp(weight, 0.0, max_weight_); }

void Candidate::note(double weight, const std::string& why) {
  if (why.empty()) return;
  for (auto& [w, e] : evidence_) {
    if (e == why) {
      w = std::max(w, weight);
      return;
    }
  }
  evidence_.emplace_back(weight, why);
}

void Candidate::add(double weight, const std::string& why) {
  if (weight > 0) observed_ = true;
  weigh(weight);
  note(weight, why);
}

void Candidate::add_static(double weight, const std::string& why) {
  weigh(weight);
  note(weight, why);
  if (!why.empty()) static_ = true;
}

void Candidate::add(double weight, const Symptom& s) {
  const double effective =
      weight * (severity_floor_ + (1 - severity_floor_) * std::clamp(s.severity, 0.0, 1.0));
  weigh(effective);
  observed_ = true;
  if (std::find(symptoms.begin(), symptoms.end(), s.id) == symptoms.end()) symptoms.push_back(s.id);
  for (const auto& e : s.evidence) note(effective, e);
  if (s.step >= 0 && (!first_step || s.step < *first_step)) first_step = s.step;
  if (layer.empty() && !s.layer.empty()) layer = s.layer;
}

void Candidate::apply_penalty(double penalty, const std::string& why) {
  keep_ *= 1.0 - std::clamp(penalty, 0.0, 1.0);
  if (!why.empty()) evidence_.emplace_back(-penalty, "against: " + why);
}

std::vector<std::string> Candidate::ordered_evidence() const {
  auto sorted = evidence_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  out.reserve(sorted.size());
  for (const auto& e : sorted) out.push_back(e.second);
  return out;
}

Collector::Collector(const DiagnoserOptions& options)
    : max_weight_(options.max_evidence_weight), severity_floor_(options.symptom_severity_floor) {}

Candidate& Collector::evidence(const std::string& cause) {
  auto it = candidates_.find(cause);
  if (it == candidates_.end()) {
    it = candidates_.emplace(cause, Candidate(cause, max_weight_, severity_floor_)).first;
  }
  return it->second;
}

void Collector::penalise(const std::string& cause, double penalty, const std::string& why) {
  penalties_.push_back({cause, penalty, why});
}

void Collector::apply_penalties() {
  for (const auto& p : penalties_) {
    const auto it = candidates_.find(p.cause);
    if (it != candidates_.end()) it->second.apply_penalty(p.penalty, p.why);
  }
  penalties_.clear();
}

std::string fmt_num(double v) { return fmt::format("{:.3g}", v); }

}  // namespace lossdoctor::diagnose
