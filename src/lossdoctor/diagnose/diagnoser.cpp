#include "lossdoctor/diagnose/diagnoser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/ranks.hpp"
#include "lossdoctor/diagnose/rules/rules.hpp"
#include "lossdoctor/diagnose/signals.hpp"
#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/report/causes.hpp"

namespace lossdoctor::diagnose {

SymptomWeights default_symptom_weights() {
  return {
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
      // Direction decides (too large or too small): the lr_too_high / lr_too_low rules add it.
      {"update_ratio_out_of_range", {}},
      {"noisy_gradient", {{"batch_too_small", 0.55}, {"label_noise", 0.1}}},
      {"batch_label_runs", {{"unshuffled_data", 0.85}}},
      {"split_stats_mismatch", {{"preprocessing_mismatch", 0.85}}},
  };
}

std::string explain_cause(const std::string& cause) {
  return report::is_known_cause(cause) ? report::cause_info(cause).explanation : "";
}

Finding healthy_finding(const RunRecord& r, const std::vector<Symptom>& symptoms,
                        const std::vector<Finding>& findings, const std::string& reason,
                        const DiagnoserOptions& options) {
  const RecordSignals sig = read_signals(r);
  Finding h;
  h.cause = "healthy";
  h.status = "suspected";
  h.explanation = explain_cause("healthy");
  std::optional<double> strongest;
  for (const auto& f : findings)
    if (f.cause != "healthy" && f.status == "suspected")
      strongest = std::max(strongest.value_or(0.0), f.confidence);
  h.confidence = std::clamp(
      strongest ? 1.0 - *strongest : options.healthy_confidence_without_suspicion, 0.0, 1.0);
  if (std::isfinite(sig.initial_loss) && std::isfinite(sig.final_loss)) {
    h.evidence.push_back(fmt::format("loss {} → {} over {} steps ({:+.0f}%)",
                                     fmt_num(sig.initial_loss), fmt_num(sig.final_loss), sig.steps,
                                     100 * (sig.final_loss / sig.initial_loss - 1)));
  }
  if (sig.val_accuracy && std::isfinite(*sig.val_accuracy)) {
    h.evidence.push_back(fmt::format(
        "validation accuracy {:.1f}% (chance for {} classes: {:.1f}%)", 100 * *sig.val_accuracy,
        r.num_classes, 100.0 / static_cast<double>(std::max<int64_t>(1, r.num_classes))));
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

namespace {

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

/// The symptom table: each symptom adds evidence to the causes of its row. Overfitting becomes
/// a note.
void add_symptom_evidence(const RuleContext& ctx, Collector& out, Diagnosis& d) {
  for (const auto& s : ctx.symptoms) {
    if (s.id == "overfitting") {
      std::string note = "overfitting (not a training fault): ";
      for (const auto& e : s.evidence) note += e + "; ";
      d.notes.push_back(note);
      continue;
    }
    const auto it = ctx.options.symptom_weights.find(s.id);
    if (it == ctx.options.symptom_weights.end()) continue;
    for (const auto& [cause, w] : it->second) out.evidence(cause).add(w, s);
  }
}

/// Lint findings (the spec says so, "spec: ") and audit findings (the data says so, "data: "):
/// evidence with their fixes and flagged samples, never an observation of the run itself.
void add_static_evidence(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.static_findings;
  const bool shows_in_training = ctx.unstable || ctx.stalled || ctx.sluggish;
  const auto add = [&](const Finding& f, const std::string& prefix) {
    Candidate& c = out.evidence(f.cause);
    const double weight = contains(o.definite_causes, f.cause) ? o.definite_weight : o.weight;
    c.add_static(weight * f.confidence,
                 prefix + (f.evidence.empty() ? f.cause : f.evidence.front()));
    for (size_t i = 1; i < f.evidence.size(); ++i)
      c.note(weight * f.confidence, prefix + f.evidence[i]);
    for (const auto& [k, v] : f.fix) c.fix.emplace(k, v);
    c.samples.insert(c.samples.end(), f.samples.begin(), f.samples.end());
    // A static fault that also shows in training is much more likely to be the cause.
    if (shows_in_training) {
      c.add_static(f.severity == "error"     ? o.shown_in_training_error
                   : f.severity == "warning" ? o.shown_in_training_warning
                                             : o.shown_in_training_info,
                   "");
    }
  };
  for (const auto& f : ctx.lint) add(f, "spec: ");
  for (const auto& f : ctx.audit) add(f, "data: ");
}

/// Suspicions that rest on the spec or the data alone stay below the verdict threshold when the
/// run itself trains normally: the run shows they do not hurt here. (The definite causes — a
/// loss that does not fit the output layer — are bugs whatever the curve looks like.)
void penalise_static_only(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.static_findings;
  if (ctx.unstable || ctx.stalled || ctx.sluggish) return;
  for (const auto& [cause, c] : out.candidates()) {
    if (!c.observed() && !contains(o.definite_causes, cause)) {
      out.penalise(cause, o.trains_normally_penalty, "the loss falls normally in this run");
    }
  }
}

Finding to_finding(Candidate& c, double confidence, double base_lr) {
  Finding f;
  f.cause = c.cause;
  f.confidence = confidence;
  f.status = "suspected";
  f.first_step = c.first_step;
  f.layer = c.layer;
  f.symptoms = c.symptoms;
  f.evidence = c.ordered_evidence();
  f.explanation = explain_cause(c.cause);
  // Default fixes (the causes table) where lint gave none.
  f.fix = c.fix.empty() ? report::default_fix(c.cause, base_lr) : c.fix;
  std::sort(c.samples.begin(), c.samples.end());
  c.samples.erase(std::unique(c.samples.begin(), c.samples.end()), c.samples.end());
  f.samples = c.samples;
  f.severity = "";
  return f;
}

}  // namespace

Diagnosis diagnose(const RunRecord& r, const std::vector<Symptom>& symptoms,
                   const std::vector<Finding>& lint_findings,
                   const std::vector<Finding>& audit_findings, const DiagnoserOptions& options) {
  const RecordSignals sig = read_signals(r);
  const RuleContext ctx =
      make_rule_context(r, sig, symptoms, lint_findings, audit_findings, options);
  Collector out(options);
  Diagnosis d;

  // 1. Evidence: symptoms, static findings, then every cause rule's record signals.
  add_symptom_evidence(ctx, out, d);
  add_static_evidence(ctx, out);
  run_cause_rules(ctx, out);
  // 2. Penalties, once all evidence is in: none depends on which rule ran first.
  penalise_static_only(ctx, out);
  out.apply_penalties();

  // A hard symptom (non-finite, diverging, at chance) means something is wrong even when no
  // single cause is strong: report the weaker suspicions too, so confirmation can test them.
  const bool hard = std::any_of(symptoms.begin(), symptoms.end(),
                                [](const Symptom& s) { return is_hard_symptom(s.id); });
  const double report_threshold =
      hard ? options.hard_symptom_report_threshold : options.report_threshold;
  std::vector<Finding> raised_statically;  // below report_threshold, raised by spec or data
  for (auto& [cause, c] : out.candidates()) {
    const double conf = c.confidence();
    if (conf >= report_threshold) {
      d.findings.push_back(to_finding(c, conf, r.base_lr));
    } else if (conf >= options.screen_threshold && c.raised_by_spec_or_data()) {
      raised_statically.push_back(to_finding(c, conf, r.base_lr));
    }
  }
  const auto by_confidence = [](const Finding& a, const Finding& b) {
    return a.confidence > b.confidence;
  };
  std::stable_sort(d.findings.begin(), d.findings.end(), by_confidence);
  const Verdict verdict = decide_verdict(d.findings, symptoms, options.verdict);
  const bool unhealthy = verdict.verdict == "unhealthy";
  d.verdict = verdict.verdict;
  if (unhealthy && d.findings.empty()) {
    d.notes.push_back(verdict.reason + "; no cause reached confidence " +
                      fmt::format("{:.2f}", report_threshold));
  }
  if (!unhealthy) {
    d.to_screen = d.findings;
    d.to_screen.insert(d.to_screen.end(), raised_statically.begin(), raised_statically.end());
    std::stable_sort(d.to_screen.begin(), d.to_screen.end(), by_confidence);
    for (const auto& f : d.findings) {
      d.notes.push_back(
          fmt::format("weak suspicion, not enough to call the run unhealthy: {} ({:.2f})", f.cause,
                      f.confidence));
    }
    d.findings = {healthy_finding(r, symptoms, d.findings, verdict.reason, options)};
  } else {
    d.to_screen = std::move(raised_statically);
  }
  if (std::string note = straggler_note(r, options); !note.empty()) d.notes.push_back(note);
  if (std::string note = recovered_climb_note(r); !note.empty()) d.notes.push_back(note);
  return d;
}

}  // namespace lossdoctor::diagnose
