#include "lossdoctor/diagnose/diagnoser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "lossdoctor/diagnose/signals.hpp"
#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/report/causes.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {
namespace {

// Thresholds on record signals (docs/diagnoses.md explains each).
constexpr double kRawInputMaxAbs = 20.0;    ///< pixel magnitudes above this: not normalised
constexpr double kTinyInputMaxAbs = 0.05;   ///< below this: scaled twice
constexpr double kOddInputFraction = 0.02;  ///< share of corrupt-looking images
constexpr double kImbalanceRatio = 4.0;     ///< most / least frequent class
constexpr double kLargeUpdateRatio = 0.1;   ///< |Δw|/|w| per step
constexpr double kSmallUpdateRatio = 2e-4;  ///< slow: healthy training sits near 1e-3
constexpr double kTinyUpdateRatio = 1e-5;
constexpr double kAccumulatingGradChange =
    0.75;  ///< |g_t − g_{t−1}|/|g_t| when grads pile up (fresh: > 1)
constexpr double kLabelNoiseAccuracyGap = 0.08;  ///< val accuracy above train accuracy
constexpr double kLabelNoiseHighLoss =
    0.10;                                ///< share of samples the model confidently contradicts
constexpr int64_t kLabelsPerClass = 20;  ///< batches seen before judging class balance
constexpr double kLintWeight = 0.6;
constexpr double kDefiniteLintWeight = 0.9;  ///< lint causes the spec alone proves (loss/output)
constexpr double kFirstUpdateJump = 10.0;    ///< loss after the first updates / loss before
constexpr double kFirstUpdateRatio = 0.1;    ///< |Δw|/|w| at the first probe (healthy ≈ 0.005)
constexpr double kWeightNormGrowth = 20.0;   ///< largest / initial weight norm           ///< lint
                                             ///< confidence counts this much as evidence

/// Evidence for one cause; confidence = (1 − Π(1 − wᵢ)) × Π(1 − penaltyⱼ).
struct Candidate {
  std::string cause;
  double miss = 1.0;  ///< Π(1 − wᵢ)
  double keep = 1.0;  ///< Π(1 − penaltyⱼ)
  std::vector<std::string> symptoms;
  /// Evidence lines with the weight they carried: the report lists the weightiest first and
  /// the evidence against last.
  std::vector<std::pair<double, std::string>> evidence;
  std::optional<int64_t> first_step;
  std::string layer;
  std::map<std::string, std::string> fix;
  std::vector<int64_t> samples;  ///< flagged training samples (from the data audit)
  bool observed = false;  ///< some evidence came from the run itself, not only from the spec

  void note(double weight, const std::string& why) {
    if (why.empty()) return;
    for (auto& [w, e] : evidence) {
      if (e == why) {
        w = std::max(w, weight);
        return;
      }
    }
    evidence.emplace_back(weight, why);
  }
  void add(double weight, const std::string& why) {
    if (weight > 0) observed = true;
    miss *= 1.0 - std::clamp(weight, 0.0, 0.99);
    note(weight, why);
  }
  void add(double weight, const Symptom& s) {
    const double effective = weight * (0.5 + 0.5 * std::clamp(s.severity, 0.0, 1.0));
    add(effective, "");
    observed = true;
    if (std::find(symptoms.begin(), symptoms.end(), s.id) == symptoms.end())
      symptoms.push_back(s.id);
    for (const auto& e : s.evidence) note(effective, e);
    if (s.step >= 0 && (!first_step || s.step < *first_step)) first_step = s.step;
    if (layer.empty() && !s.layer.empty()) layer = s.layer;
  }
  void penalise(double penalty, const std::string& why) {
    keep *= 1.0 - std::clamp(penalty, 0.0, 1.0);
    if (!why.empty()) evidence.emplace_back(-penalty, "against: " + why);
  }
  double confidence() const { return (1.0 - miss) * keep; }
  std::vector<std::string> ordered_evidence() const {
    auto sorted = evidence;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> out;
    for (const auto& e : sorted) out.push_back(e.second);
    return out;
  }
};

/// How much each symptom speaks for each cause.
const std::map<std::string, std::vector<std::pair<std::string, double>>>& symptom_weights() {
  static const std::map<std::string, std::vector<std::pair<std::string, double>>> table = {
      {"nan_loss", {{"lr_too_high", 0.5}, {"unnormalized_input", 0.25}, {"bad_init_scale", 0.2}}},
      {"diverging_loss",
       {{"lr_too_high", 0.6},
        {"unnormalized_input", 0.2},
        {"bad_lr_schedule", 0.15},
        {"loss_sign_flipped", 0.15}}},
      {"loss_spikes", {{"lr_too_high", 0.3}, {"batch_too_small", 0.3}, {"corrupt_samples", 0.1}}},
      {"oscillating_loss",
       {{"lr_too_high", 0.45}, {"batch_too_small", 0.3}, {"optimizer_misconfigured", 0.2}}},
      {"plateau_at_chance",
       {{"missing_normalization", 0.25},
        {"saturating_activation", 0.25},
        {"bad_init_scale", 0.25},
        {"lr_too_high", 0.2},
        {"lr_too_low", 0.2},
        {"loss_output_mismatch", 0.2},
        {"excessive_regularization", 0.2},
        {"insufficient_capacity", 0.15},
        {"params_not_updated", 0.2},
        {"optimizer_misconfigured", 0.15},
        {"grad_clip_too_tight", 0.15},
        {"bad_lr_schedule", 0.1}}},
      {"slow_convergence",
       {{"lr_too_low", 0.45},
        {"loss_output_mismatch", 0.2},
        {"excessive_regularization", 0.2},
        {"optimizer_misconfigured", 0.2},
        {"grad_clip_too_tight", 0.2},
        {"missing_normalization", 0.15},
        {"saturating_activation", 0.15},
        {"label_noise", 0.15},
        {"bad_lr_schedule", 0.15},
        {"insufficient_capacity", 0.15}}},
      {"bad_initial_loss",
       {{"bad_init_scale", 0.55}, {"unnormalized_input", 0.25}, {"loss_output_mismatch", 0.2}}},
      {"exploding_gradient",
       {{"lr_too_high", 0.4},
        {"bad_init_scale", 0.3},
        {"unnormalized_input", 0.2},
        {"gradients_not_reset", 0.15}}},
      {"vanishing_gradient",
       {{"missing_normalization", 0.45}, {"saturating_activation", 0.45}, {"bad_init_scale", 0.3}}},
      {"dead_units",
       {{"lr_too_high", 0.3}, {"missing_normalization", 0.3}, {"bad_init_scale", 0.3}}},
      {"saturated_units",
       {{"saturating_activation", 0.6}, {"bad_init_scale", 0.2}, {"unnormalized_input", 0.2}}},
      {"unchanged_weights", {{"params_not_updated", 0.8}}},
      {"update_ratio_out_of_range", {}},  // direction decides: handled with the record signals
      {"noisy_gradient", {{"batch_too_small", 0.55}, {"label_noise", 0.1}}},
      {"batch_label_runs", {{"unshuffled_data", 0.85}}},
      {"split_stats_mismatch", {{"preprocessing_mismatch", 0.85}}},
  };
  return table;
}

std::string fmt_num(double v) { return fmt::format("{:.3g}", v); }

using spec::lr_below_usual_range;
using spec::lr_in_usual_range;

}  // namespace

std::string explain_cause(const std::string& cause) {
  return report::is_known_cause(cause) ? report::cause_info(cause).explanation : "";
}

Finding healthy_finding(const RunRecord& r, const std::vector<Symptom>& symptoms, double confidence,
                        const std::string& reason) {
  const RecordSignals sig = read_signals(r);
  Finding h;
  h.cause = "healthy";
  h.status = "suspected";
  h.explanation = explain_cause("healthy");
  h.confidence = std::clamp(confidence, 0.0, 1.0);
  if (std::isfinite(sig.initial_loss) && std::isfinite(sig.final_loss)) {
    h.evidence.push_back(fmt::format("loss {} → {} over {} steps ({:+.0f}%)",
                                     fmt_num(sig.initial_loss), fmt_num(sig.final_loss), sig.steps,
                                     100 * (sig.final_loss / sig.initial_loss - 1)));
  }
  if (sig.val_accuracy && std::isfinite(*sig.val_accuracy)) {
    h.evidence.push_back(
        fmt::format("validation accuracy {:.1f}% (chance for {} classes: {:.1f}%)",
                    100 * *sig.val_accuracy, r.num_classes,
                    100.0 / static_cast<double>(std::max<int64_t>(1, r.num_classes))));
  }
  if (symptoms.empty()) {
    h.evidence.push_back("no symptom seen");
  } else {
    std::string ids;
    for (const auto& sy : symptoms) ids += (ids.empty() ? "" : ", ") + sy.id;
    h.evidence.push_back(fmt::format("symptom{} seen but too weak to point at a cause: {}",
                                     symptoms.size() == 1 ? "" : "s", ids));
  }
  if (!reason.empty()) h.evidence.push_back("verdict: " + reason);
  return h;
}

Diagnosis diagnose(const RunRecord& r, const std::vector<Symptom>& symptoms,
                   const std::vector<Finding>& lint_findings,
                   const std::vector<Finding>& audit_findings) {
  const RecordSignals sig = read_signals(r);
  std::map<std::string, Candidate> cands;
  const auto cand = [&](const std::string& cause) -> Candidate& {
    Candidate& c = cands[cause];
    c.cause = cause;
    return c;
  };
  Diagnosis d;

  // 1. Symptoms.
  const auto& weights = symptom_weights();
  for (const auto& s : symptoms) {
    if (s.id == "overfitting") {
      std::string note = "overfitting (not a training fault): ";
      for (const auto& e : s.evidence) note += e + "; ";
      d.notes.push_back(note);
      continue;
    }
    const auto it = weights.find(s.id);
    if (it == weights.end()) continue;
    for (const auto& [cause, w] : it->second) cand(cause).add(w, s);
  }
  const auto has = [&](const std::string& id) {
    return std::any_of(symptoms.begin(), symptoms.end(),
                       [&](const Symptom& s) { return s.id == id; });
  };
  const auto find = [&](const std::string& id) -> const Symptom* {
    for (const auto& s : symptoms) {
      if (s.id == id) return &s;
    }
    return nullptr;
  };
  const bool unstable = has("nan_loss") || has("diverging_loss") || has("oscillating_loss") ||
                        has("loss_spikes") || has("exploding_gradient");
  // Not learning: a stall symptom, or a classifier still above chance loss after 50 steps, or
  // a loss that stopped falling while far above what this data allows.
  const bool above_chance = std::isfinite(sig.chance_loss) && sig.steps >= 50 &&
                            std::isfinite(sig.final_loss) &&
                            sig.final_loss > 0.95 * sig.chance_loss;
  const bool stalled = has("plateau_at_chance") || has("slow_convergence") || above_chance;
  const bool sluggish = std::isfinite(sig.median_update_ratio) && sig.steps >= 10 &&
                        sig.median_update_ratio < kSmallUpdateRatio;
  const auto lint_has = [&](const std::string& cause) {
    return std::any_of(lint_findings.begin(), lint_findings.end(),
                       [&](const Finding& f) { return f.cause == cause; });
  };

  // 2. Lint findings (the spec says so) and audit findings (the data says so).
  const auto add_static = [&](const Finding& f, const std::string& prefix) {
    Candidate& c = cand(f.cause);
    const double weight = f.cause == "loss_output_mismatch" ? kDefiniteLintWeight : kLintWeight;
    const bool was_observed = c.observed;
    c.add(weight * f.confidence, prefix + (f.evidence.empty() ? f.cause : f.evidence.front()));
    for (size_t i = 1; i < f.evidence.size(); ++i)
      c.note(weight * f.confidence, prefix + f.evidence[i]);
    for (const auto& [k, v] : f.fix) c.fix.emplace(k, v);
    c.samples.insert(c.samples.end(), f.samples.begin(), f.samples.end());
    // A static fault that also shows in training is much more likely to be the cause.
    if (unstable || stalled || sluggish) c.add(f.severity == "error" ? 0.3 : 0.25, "");
    c.observed = was_observed;  // spec or data evidence is not an observation of this run
  };
  for (const auto& f : lint_findings) add_static(f, "spec: ");
  for (const auto& f : audit_findings) add_static(f, "data: ");

  // 3. Record signals that separate look-alikes.
  if (sig.input_max_abs > kRawInputMaxAbs) {
    Candidate& c = cand("unnormalized_input");
    c.add(unstable || stalled ? 0.7 : 0.4,
          fmt::format(
              "inputs reach the model with magnitudes up to {} (mean {}, std {}): raw pixel values",
              fmt_num(sig.input_max_abs), fmt_num(sig.input_mean), fmt_num(sig.input_std)));
    if (cands.count("lr_too_high"))
      cand("lr_too_high")
          .penalise(0.3, "the inputs are unnormalised, which explains the instability first");
  } else if (sig.input_max_abs > 0 && sig.input_max_abs < kTinyInputMaxAbs) {
    cand("unnormalized_input")
        .add(stalled ? 0.7 : 0.4,
             fmt::format("inputs never exceed {} in magnitude (std {}): scaled twice?",
                         fmt_num(sig.input_max_abs), fmt_num(sig.input_std)));
  }
  if (r.first_nonfinite && r.first_nonfinite->layer == "input") {
    Candidate& c = cand("corrupt_samples");
    c.add(0.9, fmt::format("the first NaN/Inf is in the input batch at step {}",
                           r.first_nonfinite->step));
    c.first_step = r.first_nonfinite->step;
    cand("lr_too_high").penalise(0.7, "the NaN came in with the data, not from the updates");
  }
  if (sig.odd_input_fraction > kOddInputFraction) {
    cand("corrupt_samples")
        .add(std::min(0.85, 4 * sig.odd_input_fraction),
             fmt::format("{:.1f}% of training images look corrupt (NaN, constant or pure noise)",
                         100 * sig.odd_input_fraction));
  }
  if (sig.max_class_ratio > kImbalanceRatio && !has("batch_label_runs") &&
      sig.labels_counted >= kLabelsPerClass * r.num_classes) {
    cand("class_imbalance")
        .add(std::min(0.8, 0.15 * sig.max_class_ratio),
             fmt::format("the most frequent class appears {:.1f}× as often as the rarest",
                         sig.max_class_ratio));
  }
  // Label noise: the model generalises (validation, with clean labels, beats training) and it
  // confidently contradicts a share of the training labels. Augmentation and dropout also depress
  // training accuracy, but they leave few confidently contradicted samples.
  if (sig.val_accuracy && std::isfinite(*sig.val_accuracy) &&
      *sig.val_accuracy - sig.late_train_accuracy > kLabelNoiseAccuracyGap &&
      sig.high_loss_fraction > kLabelNoiseHighLoss) {
    const double gap = *sig.val_accuracy - sig.late_train_accuracy;
    Candidate& c = cand("label_noise");
    c.add(std::min(0.9, 0.4 + 2.0 * gap + 2.0 * (sig.high_loss_fraction - kLabelNoiseHighLoss)),
          fmt::format("validation accuracy {:.1f}% beats training accuracy {:.1f}%: the training "
                      "labels disagree "
                      "with what the model learns",
                      100 * *sig.val_accuracy, 100 * sig.late_train_accuracy));
    c.note(0.5, fmt::format("{:.1f}% of training samples have a loss above ln K + 0.7 (the model "
                            "confidently prefers "
                            "another class; clean data: about 5%)",
                            100 * sig.high_loss_fraction));
  }
  if (std::isfinite(sig.median_update_ratio) && sig.steps >= 10) {
    if (sig.median_update_ratio > kLargeUpdateRatio) {
      Candidate& c = cand("lr_too_high");
      c.add(unstable ? 0.6 : 0.35,
            fmt::format("each step changes the weights by {:.1f}% of their norm (median; "
                        "healthy ≈ 0.1%), most at {}",
                        100 * sig.median_update_ratio, sig.largest_update_layer));
      if (const Symptom* s = find("update_ratio_out_of_range")) c.add(0.2, *s);
    } else if (sig.median_update_ratio < kSmallUpdateRatio && sig.zero_update_fraction < 0.5) {
      Candidate& c = cand("lr_too_low");
      const double w = sig.median_update_ratio < kTinyUpdateRatio ? 0.6 : 0.4;
      c.add(stalled ? w + 0.2 : w,
            fmt::format("each step changes the weights by only {:.2g} of their norm (median; "
                        "healthy ≈ 1e-3)",
                        sig.median_update_ratio));
      if (const Symptom* s = find("update_ratio_out_of_range")) c.add(0.2, *s);
      if (has("vanishing_gradient"))
        c.penalise(0.5, "gradients vanish in early layers: small updates follow from that");
    }
  }
  // Overshooting shows from the very first update: the loss jumps and the weights balloon.
  if (std::isfinite(sig.first_update_jump) && sig.first_update_jump > kFirstUpdateJump &&
      !(sig.first_update_jump * r.steps[0].loss < 3 * sig.chance_loss)) {
    Candidate& c = cand("lr_too_high");
    c.add(0.6,
          fmt::format("the first update multiplied the loss by {:.0f} (step 0: {} → steps 1–3: {})",
                      sig.first_update_jump, fmt_num(r.steps[0].loss),
                      fmt_num(sig.first_update_jump * r.steps[0].loss)));
    if (!c.first_step) c.first_step = 1;
  }
  if (std::isfinite(sig.early_update_ratio) && sig.early_update_ratio > kFirstUpdateRatio) {
    cand("lr_too_high")
        .add(0.5, fmt::format("the first probed step changed the weights by {:.0f}% of their norm "
                              "(median over layers; healthy ≈ 0.1%)",
                              100 * sig.early_update_ratio));
  }
  if (sig.weight_norm_growth > kWeightNormGrowth) {
    cand("lr_too_high")
        .add(0.45,
             fmt::format("the weight norm grew {:.0f}× during the run", sig.weight_norm_growth));
  }
  if (sig.zero_update_fraction > 0.5 && r.custom_loop) {
    cand("params_not_updated")
        .add(0.85, fmt::format("the weights did not change at {:.0f}% of steps although "
                               "the gradient norm was non-zero",
                               100 * sig.zero_update_fraction));
    if (cands.count("lr_too_low"))
      cand("lr_too_low").penalise(0.8, "updates are exactly zero, not small");
  }
  if (r.custom_loop && std::isfinite(sig.median_grad_change_ratio) &&
      sig.median_grad_change_ratio < kAccumulatingGradChange && sig.steps >= 20 &&
      sig.grad_norm_growth > 3) {
    cand("gradients_not_reset")
        .add(0.9, fmt::format("consecutive gradients differ by only {:.0f}% of their norm "
                              "(fresh minibatch gradients differ by more than 100%) while "
                              "the gradient norm grew {:.1f}× in 60 steps: gradients accumulate",
                              100 * sig.median_grad_change_ratio, sig.grad_norm_growth));
    for (const char* look_alike : {"lr_too_high", "bad_init_scale"}) {
      if (cands.count(look_alike))
        cand(look_alike)
            .penalise(0.6, "the growing steps come from gradients that are never reset");
    }
  }
  if (r.custom_loop && sig.negated_loss_fraction > 0.5) {
    cand("loss_sign_flipped")
        .add(0.95, fmt::format("the reported loss equals minus the cross-entropy at {:.0f}% "
                               "of steps",
                               100 * sig.negated_loss_fraction));
  } else if (r.custom_loop && r.loss == "cross_entropy" && sig.final_loss < -0.05 &&
             std::isfinite(sig.final_loss)) {
    cand("loss_sign_flipped")
        .add(0.7, fmt::format("cross-entropy cannot be negative, yet the loss reached {}",
                              fmt_num(sig.final_loss)));
  }
  if (sig.lr_first > 0 && sig.lr_max / sig.lr_first > 10) {
    cand("bad_lr_schedule")
        .add(unstable ? 0.6 : 0.35,
             fmt::format("the learning rate grew from {} to {} during the run",
                         fmt_num(sig.lr_first), fmt_num(sig.lr_max)));
  } else if (sig.lr_first > 0 && sig.lr_last / sig.lr_first < 1e-3 && sig.steps >= 20) {
    cand("bad_lr_schedule")
        .add(0.65, fmt::format("the learning rate decayed from {} to {} within {} steps",
                               fmt_num(sig.lr_first), fmt_num(sig.lr_last), sig.steps));
  }
  if (sig.zero_initial_weights) {
    cand("bad_init_scale")
        .add(0.7, "a weight layer starts with all weights zero: its units stay identical");
  }
  if (std::isfinite(sig.initial_activation_growth) && sig.weight_layers >= 3 &&
      (sig.initial_activation_growth > 100 || sig.initial_activation_growth < 0.01)) {
    Candidate& c = cand("bad_init_scale");
    c.add(0.5, fmt::format("at step 0 the activation scale changes {:.3g}× from the first to the "
                           "last weight layer",
                           sig.initial_activation_growth));
  }
  if (has("bad_initial_loss") && cands.count("lr_too_high")) {
    cand("lr_too_high").penalise(0.3, "the loss was already wrong before the first update");
  }
  if (r.batch_size > 0 && r.batch_size <= 8 && (unstable || has("noisy_gradient"))) {
    cand("batch_too_small")
        .add(r.batch_size <= 2 ? 0.45 : 0.25,
             fmt::format("batches of {} sample{}", r.batch_size, r.batch_size == 1 ? "" : "s"));
  }
  if (r.clip_grad_norm > 0 && sig.steps >= 10) {
    std::vector<double> grads;
    for (const auto& st : r.steps) grads.push_back(st.grad_norm);
    const double g = median(grads);
    if (g > 100 * r.clip_grad_norm) {
      cand("grad_clip_too_tight")
          .add(stalled ? 0.7 : 0.4,
               fmt::format("the gradient norm (median {}) is clipped to {}: every step "
                           "is shrunk {:.0f}×",
                           fmt_num(g), fmt_num(r.clip_grad_norm), g / r.clip_grad_norm));
    }
  }
  if (sig.weight_layers >= 8 && !sig.has_batchnorm &&
      (has("vanishing_gradient") || has("dead_units")) && stalled) {
    cand("missing_normalization")
        .add(0.4, fmt::format("{} weight layers and no batch norm", sig.weight_layers));
  }
  // Look-alikes that the architecture rules out.
  if (cands.count("missing_normalization") && (sig.weight_layers < 6 || sig.relu_layers == 0)) {
    cand("missing_normalization")
        .penalise(0.7, fmt::format("{} weight layers{}: too shallow or not a ReLU stack",
                                   sig.weight_layers, sig.relu_layers == 0 ? ", no ReLU" : ""));
  }
  if (cands.count("saturating_activation") && sig.saturating_layers == 0) {
    cand("saturating_activation").penalise(0.9, "no sigmoid or tanh layer in the model");
  }
  if (cands.count("lr_too_high") && r.batch_size > 0 && r.batch_size <= 4 &&
      !lint_has("lr_too_high")) {
    cand("lr_too_high")
        .penalise(0.5,
                  fmt::format(
                      "the learning rate {} is usual for {}; batches of {} make the steps erratic",
                      fmt_num(r.base_lr), r.optimizer, r.batch_size));
  }
  if (cands.count("batch_too_small") && r.batch_size >= 32 && !lint_has("batch_too_small")) {
    cand("batch_too_small")
        .penalise(0.6, fmt::format("batches of {} are not small: the gradient noise comes from "
                                   "elsewhere",
                                   r.batch_size));
  }
  if (cands.count("bad_init_scale") && lint_has("excessive_regularization") &&
      !lint_has("bad_init_scale")) {
    cand("bad_init_scale")
        .penalise(0.5, "heavy dropout rescales the activations: the odd start follows from it");
  }
  if (cands.count("lr_too_low") && lint_has("bad_lr_schedule") && sig.lr_first > 0 &&
      sig.lr_last / sig.lr_first < 1e-2) {
    cand("lr_too_low").penalise(0.4, "the rate is small because the schedule shrank it");
  }

  // A rate outside the optimiser's usual range, together with the matching behaviour.
  if (r.base_lr > 0 && !lr_in_usual_range(r.optimizer, r.base_lr)) {
    const bool below = lr_below_usual_range(r.optimizer, r.base_lr);
    if (below && sluggish) {
      cand("lr_too_low")
          .add(0.3, fmt::format("lr {} is below the usual range for {}", fmt_num(r.base_lr),
                                r.optimizer));
    } else if (!below && unstable) {
      cand("lr_too_high")
          .add(0.3, fmt::format("lr {} is above the usual range for {}", fmt_num(r.base_lr),
                                r.optimizer));
    }
  }

  // A learning rate inside the optimiser's usual range is rarely "too low" when the run stalls
  // for structural reasons (a dead bottleneck, dead units): the update ratio is small because the
  // gradients are.
  if (cands.count("lr_too_low") && lr_in_usual_range(r.optimizer, r.base_lr) &&
      !lint_has("lr_too_low") && !(sig.lr_first > 0 && sig.lr_last / sig.lr_first < 1e-2)) {
    cand("lr_too_low")
        .penalise(0.5, fmt::format("lr {} is usual for {}", fmt_num(r.base_lr), r.optimizer));
  }

  // Suspicions that rest on the spec alone stay below the verdict threshold when the run itself
  // trains normally: the run shows they do not hurt here. (A loss that does not fit the output
  // layer is a bug whatever the curve looks like.)
  const bool trains_normally = !unstable && !stalled && !sluggish;
  for (auto& [cause, c] : cands) {
    if (trains_normally && !c.observed && cause != "loss_output_mismatch") {
      c.penalise(0.45, "the loss falls normally in this run");
    }
  }

  // 4. Default fixes (the causes table) where lint gave none.
  const auto default_fix = [&](Candidate& c) {
    if (c.fix.empty()) c.fix = report::default_fix(c.cause, r.base_lr);
  };

  // A hard symptom (non-finite, diverging, at chance) means something is wrong even when no
  // single cause is strong: report the weaker suspicions too, so confirmation can test them.
  const bool hard = std::any_of(symptoms.begin(), symptoms.end(),
                                [](const Symptom& s) { return is_hard_symptom(s.id); });
  const double report_threshold = hard ? kHardSymptomReportThreshold : kReportThreshold;
  for (auto& [cause, c] : cands) {
    const double conf = c.confidence();
    if (conf < report_threshold) continue;
    default_fix(c);
    Finding f;
    f.cause = cause;
    f.confidence = conf;
    f.status = "suspected";
    f.first_step = c.first_step;
    f.layer = c.layer;
    f.symptoms = c.symptoms;
    f.evidence = c.ordered_evidence();
    f.explanation = explain_cause(cause);
    f.fix = c.fix;
    std::sort(c.samples.begin(), c.samples.end());
    c.samples.erase(std::unique(c.samples.begin(), c.samples.end()), c.samples.end());
    f.samples = c.samples;
    f.severity = "";
    d.findings.push_back(std::move(f));
  }
  std::stable_sort(d.findings.begin(), d.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  const Verdict verdict = decide_verdict(d.findings, symptoms);
  const bool unhealthy = verdict.verdict == "unhealthy";
  d.verdict = verdict.verdict;
  if (unhealthy && d.findings.empty()) {
    d.notes.push_back(verdict.reason + "; no cause reached confidence " +
                      fmt::format("{:.2f}", report_threshold));
  }
  if (!unhealthy) {
    for (const auto& f : d.findings) {
      d.notes.push_back(
          fmt::format("weak suspicion, not enough to call the run unhealthy: {} ({:.2f})", f.cause,
                      f.confidence));
    }
    const double strongest = d.findings.empty() ? 0.1 : d.findings.front().confidence;
    d.findings = {healthy_finding(r, symptoms, 1.0 - strongest, verdict.reason)};
  }
  return d;
}

}  // namespace lossdoctor::diagnose
