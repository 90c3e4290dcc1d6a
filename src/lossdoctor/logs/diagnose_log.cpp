#include "lossdoctor/logs/diagnose_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/diagnose/series.hpp"
#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::logs {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Below this many finite losses the per-step detectors stay silent (diverging_loss needs 20,
/// oscillating_loss 40): the curve checks below judge such short (per-epoch) curves.
constexpr size_t kShortCurve = 40;
/// Curve checks: divergence when the last loss is this multiple of the lowest one ...
constexpr double kDivergeFactor = 1.5;
/// ... after at least this many rises in a row at the end.
constexpr size_t kDivergeRises = 2;
/// Plateau at chance: this share of the judged epochs within ±kChanceBand × ln K.
constexpr double kChanceBand = 0.10;
constexpr double kChanceShare = 0.8;
/// Slow convergence: less than this relative fall over at least kSlowMinPoints points.
constexpr double kSlowDrop = 0.10;
constexpr size_t kSlowMinPoints = 5;
/// Oscillation: at least kOscMinPoints points, direction changes in this share of transitions
/// that move by more than kOscMinMove of the median loss, and no net descent.
constexpr size_t kOscMinPoints = 6;
constexpr double kOscAlternating = 0.6;
constexpr double kOscMinMove = 0.2;
/// An lr below this is low for any common optimiser (used when the optimiser is unknown).
constexpr double kLowLrAnyOptimizer = 1e-5;
/// Schedule: the lr fell below this × its first value in the first half of the run.
constexpr double kEarlyDecay = 1e-3;
/// Confidence of the causes the curve checks add themselves.
constexpr double kCurveCauseConfidence = 0.45;

/// Symptoms a log cannot support (they need gradients, probes, inputs or labels).
const std::set<std::string>& unsupported_symptoms() {
  static const std::set<std::string> s = {
      "exploding_gradient", "vanishing_gradient", "dead_units",
      "saturated_units",    "unchanged_weights",  "update_ratio_out_of_range",
      "noisy_gradient",     "batch_label_runs",   "split_stats_mismatch"};
  return s;
}

double opt(const std::optional<double>& v) { return v ? *v : kNaN; }

StepSample unmeasured_step() {
  StepSample s;
  s.lr = kNaN;
  s.grad_norm = kNaN;
  s.update_norm = kNaN;
  s.weight_norm = kNaN;
  s.batch_accuracy = kNaN;
  s.input = {kNaN, kNaN, kNaN, kNaN, kNaN};
  s.grad_change_ratio = kNaN;
  s.reference_loss = kNaN;
  s.odd_input_fraction = kNaN;
  return s;
}

bool has(const std::vector<Symptom>& symptoms, const std::string& id) {
  return std::any_of(symptoms.begin(), symptoms.end(),
                     [&](const Symptom& s) { return s.id == id; });
}

Finding* find(std::vector<Finding>& findings, const std::string& cause) {
  for (auto& f : findings)
    if (f.cause == cause) return &f;
  return nullptr;
}

using diagnose::series::num;
using diagnose::series::pct;

/// The curve checks for short (per-epoch) curves; `unit` is "epoch" or "step".
void curve_checks(const RunRecord& r, const std::string& unit, std::vector<Symptom>& symptoms) {
  std::vector<double> y;
  std::vector<int64_t> x;
  for (const auto& s : r.steps) {
    if (!std::isfinite(s.loss)) break;  // after a NaN: nan_loss's business
    y.push_back(s.loss);
    x.push_back(s.step);
  }
  const size_t n = y.size();
  const double chance = diagnose::series::chance_loss(r);

  // Divergence: the loss ends well above its lowest point, rising at the end.
  if (n >= 3 && !has(symptoms, "diverging_loss")) {
    const size_t lo = static_cast<size_t>(std::min_element(y.begin(), y.end()) - y.begin());
    size_t rises = 0;
    for (size_t i = n - 1; i > 0 && y[i] > y[i - 1]; --i) ++rises;
    if (lo + 1 < n && rises >= kDivergeRises && y[n - 1] >= kDivergeFactor * y[lo] &&
        y[n - 1] - y[lo] > 0.05 * std::abs(y[0])) {
      Symptom s;
      s.id = "diverging_loss";
      s.step = x[lo + 1];
      s.value = y[n - 1];
      s.severity = diagnose::series::clamp(0.5 + 0.5 * std::log10(y[n - 1] / y[lo]), 0.5, 1.0);
      s.evidence.push_back(fmt::format("loss {} at {} {} → {} at {} {} ({} rises in a row)",
                                       num(y[lo]), unit, x[lo], num(y[n - 1]), unit, x[n - 1],
                                       rises));
      symptoms.push_back(s);
    }
  }
  // Plateau at chance: the training loss stays at ln K.
  if (std::isfinite(chance) && n >= 3 && !has(symptoms, "plateau_at_chance")) {
    const size_t skip = 1;  // the first point may still be leaving its start
    size_t in = 0;
    for (size_t i = skip; i < n; ++i)
      if (std::abs(y[i] - chance) <= kChanceBand * chance) ++in;
    const double share = static_cast<double>(in) / static_cast<double>(n - skip);
    if (share >= kChanceShare) {
      Symptom s;
      s.id = "plateau_at_chance";
      s.step = x[skip];
      s.value = y[n - 1];
      s.severity = diagnose::series::clamp(0.5 + 0.5 * (share - kChanceShare) / (1 - kChanceShare),
                                           0.5, 1.0);
      s.evidence.push_back(fmt::format(
          "training loss {} → {} over {}s {}–{}: within ±{} of chance ln {} = {} for {} of them",
          num(y[skip]), num(y[n - 1]), unit, x[skip], x[n - 1], pct(kChanceBand), r.num_classes,
          num(chance), pct(share)));
      symptoms.push_back(s);
    }
  }
  // Validation accuracy at chance over every epoch after the first.
  if (r.num_classes >= 2 && !has(symptoms, "plateau_at_chance")) {
    // The step detector's test (series::accuracy_at_chance); the bar is quoted in the evidence.
    const double bar = diagnose::series::chance_accuracy_bar(r.num_classes);
    std::vector<const EpochSample*> judged;
    for (size_t i = 1; i < r.epochs.size(); ++i)
      if (std::isfinite(r.epochs[i].val_accuracy)) judged.push_back(&r.epochs[i]);
    const bool all = !judged.empty() && std::all_of(judged.begin(), judged.end(), [&](auto* e) {
      return diagnose::series::accuracy_at_chance(e->val_accuracy, r.num_classes);
    });
    if (judged.size() >= 2 && all) {
      Symptom s;
      s.id = "plateau_at_chance";
      s.step = judged.front()->step;
      s.value = judged.back()->val_accuracy;
      s.severity = 0.8;
      s.evidence.push_back(fmt::format(
          "validation accuracy {} after epoch {}, below {} in every epoch after the first: chance "
          "for {} classes is {}",
          pct(judged.back()->val_accuracy), judged.back()->epoch, pct(bar), r.num_classes,
          pct(1.0 / static_cast<double>(r.num_classes))));
      symptoms.push_back(s);
    }
  }
  // Oscillation: the loss goes up and down by large moves without descending.
  if (n >= kOscMinPoints && !has(symptoms, "oscillating_loss")) {
    const double med = diagnose::series::median(y);
    size_t big = 0, turns = 0;
    int last_dir = 0;
    for (size_t i = 1; i < n; ++i) {
      const double d = y[i] - y[i - 1];
      if (std::abs(d) < kOscMinMove * med) continue;
      const int dir = d > 0 ? 1 : -1;
      ++big;
      if (last_dir != 0 && dir != last_dir) ++turns;
      last_dir = dir;
    }
    const size_t third = n / 3;
    const double head = diagnose::series::median(std::vector<double>(y.begin(), y.begin() + third));
    const double tail = diagnose::series::median(std::vector<double>(y.end() - third, y.end()));
    if (big >= 4 && static_cast<double>(turns) >= kOscAlternating * static_cast<double>(big - 1) &&
        tail >= 0.9 * head) {
      Symptom s;
      s.id = "oscillating_loss";
      s.step = x[1];
      s.value = (diagnose::series::quantile(y, 0.9) - diagnose::series::quantile(y, 0.1)) / med;
      s.severity = diagnose::series::clamp(0.3 + 0.7 * (s.value - 0.5), 0.3, 1.0);
      s.evidence.push_back(fmt::format(
          "loss swings {}–{} (median {}) over {}s {}–{}: {} of {} large moves reverse direction",
          num(diagnose::series::quantile(y, 0.1)), num(diagnose::series::quantile(y, 0.9)),
          num(med), unit, x.front(), x.back(), turns, big));
      symptoms.push_back(s);
    }
  }
  // Slow convergence: the loss barely falls (and is neither at chance nor diverging).
  if (n >= kSlowMinPoints && !has(symptoms, "slow_convergence") &&
      !has(symptoms, "plateau_at_chance") && !has(symptoms, "diverging_loss") &&
      !has(symptoms, "oscillating_loss") && y[0] > 1e-6) {
    const double drop = (y[0] - y[n - 1]) / y[0];
    if (drop < kSlowDrop && drop >= -0.05) {
      Symptom s;
      s.id = "slow_convergence";
      s.step = x[0];
      s.value = drop;
      s.severity = diagnose::series::clamp(1.0 - std::max(drop, 0.0) / kSlowDrop, 0.2, 1.0);
      s.evidence.push_back(fmt::format("loss {} → {} over {}s {}–{}: {} lower (threshold {})",
                                       num(y[0]), num(y[n - 1]), unit, x[0], x[n - 1], pct(drop),
                                       pct(kSlowDrop)));
      symptoms.push_back(s);
    }
  }
}

struct LrPath {
  bool logged = false;
  double first = kNaN, max = kNaN, last = kNaN;
  int64_t decayed_at = -1;  ///< first step below kEarlyDecay × first
  size_t decayed_index = 0, count = 0;
};

LrPath lr_path(const RunRecord& r) {
  LrPath p;
  for (const auto& s : r.steps) {
    if (!std::isfinite(s.lr)) continue;
    if (!p.logged) {
      p.first = s.lr;
      p.max = s.lr;
      p.logged = true;
    }
    p.max = std::max(p.max, s.lr);
    p.last = s.lr;
    if (p.decayed_at < 0 && p.first > 0 && s.lr < kEarlyDecay * p.first) {
      p.decayed_at = s.step;
      p.decayed_index = p.count;
    }
    ++p.count;
  }
  return p;
}

Finding curve_finding(const std::string& cause, double confidence,
                      const std::vector<std::string>& symptoms, std::vector<std::string> evidence,
                      std::map<std::string, std::string> fix) {
  Finding f;
  f.cause = cause;
  f.confidence = confidence;
  f.symptoms = symptoms;
  f.evidence = std::move(evidence);
  f.explanation = diagnose::explain_cause(cause);
  f.fix = std::move(fix);
  return f;
}

/// The signal that would tell each cause from its look-alikes.
std::string separating_signal(const std::string& cause) {
  static const std::map<std::string, std::string> m = {
      {"lr_too_high",
       "a rerun at lr/10 (or the Monitor's update ratio |Δw|/|w|) tells a rate that overshoots "
       "from raw inputs or a bad initialisation"},
      {"lr_too_low",
       "the Monitor's update ratio |Δw|/|w| tells a small rate from small gradients (dead or "
       "saturated units, vanishing gradients)"},
      {"unnormalized_input",
       "input statistics (attach the Monitor, or run `lossdoctor audit` on the data) show "
       "whether the inputs are raw pixel values"},
      {"bad_init_scale",
       "the loss at step 0 and per-layer activation scales (attach the Monitor) show a bad "
       "initialisation"},
      {"missing_normalization",
       "attach the Monitor to see whether units are dead and gradients vanish in early layers"},
      {"saturating_activation", "attach the Monitor to see whether units are saturated"},
      {"batch_too_small",
       "the batch size, or the Monitor's gradient-noise scale, tells small-batch noise from a "
       "high rate"},
      {"bad_lr_schedule", "the logged lr per step shows what the schedule did"},
      {"label_noise", "`lossdoctor audit` on the data finds mislabelled samples"},
      {"corrupt_samples", "`lossdoctor audit` on the data finds corrupt images"},
      {"loss_sign_flipped", "the Monitor's reference cross-entropy catches a negated loss"},
      {"optimizer_misconfigured", "the optimiser's settings (momentum, betas, eps) and lint"},
      {"excessive_regularization", "the spec's weight decay and dropout (lossdoctor lint)"},
      {"insufficient_capacity", "the model's size (lossdoctor lint on a spec)"},
      {"loss_output_mismatch", "the model's last layer and loss (lossdoctor lint on a spec)"},
      {"grad_clip_too_tight", "gradient norms before clipping (attach the Monitor)"},
      {"params_not_updated", "the Monitor's update norms show weights that never move"},
  };
  const auto it = m.find(cause);
  return it == m.end() ? "" : it->second;
}

}  // namespace

bool is_epoch_level(const LogData& log) { return log.steps.empty(); }

RunRecord to_record(const LogData& log, const LogDiagnosisOptions& options) {
  RunRecord r;
  r.spec_name = log.path;
  r.num_classes = options.num_classes;
  r.loss = options.num_classes >= 2 ? "cross_entropy" : "";
  r.optimizer = options.optimizer;
  r.probe_every = 0;
  const bool epoch_level = is_epoch_level(log);
  if (!epoch_level) {
    for (const auto& row : log.steps) {
      StepSample s = unmeasured_step();
      s.step = row.step;
      s.epoch = row.epoch.value_or(0);
      s.loss = row.loss;
      s.lr = opt(row.lr);
      s.batch_accuracy = opt(row.accuracy);
      r.steps.push_back(s);
    }
  } else {
    for (const auto& e : log.epochs) {
      if (!e.train_loss) continue;
      StepSample s = unmeasured_step();
      s.step = e.epoch + 1;  // the state after that epoch (never "before any update")
      s.epoch = e.epoch;
      s.loss = *e.train_loss;
      s.lr = opt(e.lr);
      s.batch_accuracy = opt(e.train_accuracy);
      r.steps.push_back(s);
    }
  }
  // The base rate is judged against the optimiser's usual range: only when the optimiser is known.
  for (const auto& s : r.steps) {
    if (std::isfinite(s.lr) && !options.optimizer.empty()) {
      r.base_lr = s.lr;
      break;
    }
  }
  for (const auto& e : log.epochs) {
    EpochSample x;
    x.epoch = e.epoch;
    x.train_loss = opt(e.train_loss);
    x.train_accuracy = opt(e.train_accuracy);
    x.val_loss = opt(e.val_loss);
    x.val_accuracy = opt(e.val_accuracy);
    if (epoch_level) {
      x.step = e.epoch + 1;
    } else {
      // The step the epoch ended at; its training loss: the mean of its logged steps.
      double sum = 0;
      int64_t count = 0, last = -1;
      for (const auto& s : log.steps) {
        if (s.epoch && *s.epoch == e.epoch) {
          if (std::isfinite(s.loss)) {
            sum += s.loss;
            ++count;
          }
          last = s.step;
        }
      }
      x.step = e.step.value_or(last >= 0 ? last : 0);
      if (!e.train_loss && count > 0) x.train_loss = sum / static_cast<double>(count);
    }
    r.epochs.push_back(x);
  }
  return r;
}

report::Report diagnose_log(const LogData& log, const LogDiagnosisOptions& options) {
  const RunRecord record = to_record(log, options);
  const bool epoch_level = is_epoch_level(log);
  const std::string unit = epoch_level ? "epoch" : "step";

  std::vector<Symptom> symptoms;
  for (auto& s : diagnose::detect_symptoms(record))
    if (!unsupported_symptoms().count(s.id)) symptoms.push_back(std::move(s));
  size_t finite = 0;
  for (const auto& s : record.steps) finite += std::isfinite(s.loss) ? 1 : 0;
  if (epoch_level || finite < kShortCurve) curve_checks(record, unit, symptoms);
  std::stable_sort(symptoms.begin(), symptoms.end(),
                   [](const Symptom& a, const Symptom& b) { return a.step < b.step; });

  const diagnose::Diagnosis d = diagnose::diagnose(record, symptoms, {}, {});
  std::vector<Finding> findings;
  for (const auto& f : d.findings)
    if (f.cause != "healthy") findings.push_back(f);

  // What the logged learning rate adds.
  const LrPath lr = lr_path(record);
  const bool unstable = has(symptoms, "diverging_loss") || has(symptoms, "nan_loss") ||
                        has(symptoms, "oscillating_loss") || has(symptoms, "loss_spikes");
  const bool stalled = has(symptoms, "slow_convergence") || has(symptoms, "plateau_at_chance");
  if (lr.logged && unstable) {
    if (Finding* f = find(findings, "lr_too_high")) {
      f->evidence.push_back(fmt::format(
          "logged lr {} at the start, {} at the end{}", num(lr.first), num(lr.last),
          !options.optimizer.empty() && !spec::lr_in_usual_range(options.optimizer, lr.max) &&
                  !spec::lr_below_usual_range(options.optimizer, lr.max)
              ? fmt::format(" (above the usual range for {})", options.optimizer)
              : ""));
    }
  }
  if (lr.logged && stalled && lr.max > 0) {
    const bool low = options.optimizer.empty()
                         ? lr.max <= kLowLrAnyOptimizer
                         : spec::lr_below_usual_range(options.optimizer, lr.max) &&
                               !spec::lr_in_usual_range(options.optimizer, lr.max);
    if (low && !find(findings, "lr_too_low")) {
      std::vector<std::string> syms;
      for (const auto& s : symptoms)
        if (s.id == "slow_convergence" || s.id == "plateau_at_chance") syms.push_back(s.id);
      findings.push_back(curve_finding(
          "lr_too_low", kCurveCauseConfidence, syms,
          {fmt::format("the loss barely moves while the logged lr is at most {}{}", num(lr.max),
                       options.optimizer.empty()
                           ? fmt::format(" (below {}, low for any common optimiser)",
                                         num(kLowLrAnyOptimizer))
                           : fmt::format(" (below the usual range for {})", options.optimizer))},
          {{"optimizer.lr", num(lr.max * 10)}}));
    }
  }
  if (lr.logged && lr.decayed_at >= 0 && lr.count >= 3 && lr.decayed_index * 2 < lr.count &&
      !find(findings, "bad_lr_schedule")) {
    findings.push_back(curve_finding(
        "bad_lr_schedule", kCurveCauseConfidence, {},
        {fmt::format("the logged lr fell from {} to {} by {} {}, in the first half of the run "
                     "({} {}s logged)",
                     num(lr.first), num(record.steps[lr.decayed_index].lr), unit, lr.decayed_at,
                     lr.count, unit)},
        {}));
  }

  // A rate fix needs the rate: the logged one, else none (the record's base rate is 0).
  for (auto& f : findings) {
    const auto it = f.fix.find("optimizer.lr");
    if (it == f.fix.end()) continue;
    if (f.cause == "lr_too_high" && lr.logged && lr.first > 0) {
      it->second = num(lr.first / 10);
    } else if (f.cause == "lr_too_low" && lr.logged && lr.max > 0) {
      it->second = num(lr.max * 10);
    } else if (record.base_lr <= 0) {
      f.fix.erase(it);
    }
  }
  // Curve-only evidence: suspected, moderate at most.
  for (auto& f : findings) {
    f.status = "suspected";
    f.confidence = std::min(f.confidence, kCurveOnlyMaxConfidence);
  }
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  const diagnose::Verdict v = diagnose::decide_verdict(findings, symptoms);
  std::vector<std::string> weak;
  if (v.verdict == "healthy") {
    // As diagnose: a healthy run reports one `healthy` finding; weak suspicions become notes.
    for (const auto& f : findings) {
      weak.push_back(
          fmt::format("weak suspicion, not enough to call the run unhealthy: {} ({:.2f})", f.cause,
                      f.confidence));
    }
    findings = {diagnose::healthy_finding(record, symptoms, findings, v.reason)};
  }

  report::Report rep;
  rep.command = "diagnose-log";
  rep.spec = log.path;
  rep.verdict = v.verdict;
  rep.steps_run = static_cast<int64_t>(record.steps.size());
  rep.seconds = 0;
  rep.device = "none";
  rep.findings = findings;
  rep.symptoms = symptoms;

  // What was read, what could not be checked, what would separate the rest.
  std::string used;
  for (const auto& [role, column] : log.columns)
    used += fmt::format("{}{}={}", used.empty() ? "" : ", ", role, column);
  rep.notes.push_back(fmt::format(
      "curve-only diagnosis of a {} log: {} {} rows with a training loss, {} epoch rows; "
      "columns used: {}",
      log_format_name(log.format), record.steps.size(), unit, log.epochs.size(), used));
  rep.notes.insert(rep.notes.end(), log.notes.begin(), log.notes.end());
  rep.notes.push_back(
      "a log cannot show gradients, weight updates, per-layer activations, inputs or labels: "
      "exploding/vanishing gradients, dead or saturated units, unchanged weights, update ratios, "
      "gradient noise, unshuffled batches and preprocessing mismatches were not checked; attach "
      "lossdoctor's Monitor (C++ or Python) or run `lossdoctor diagnose SPEC` to see them");
  rep.notes.push_back(
      fmt::format("causes are suspected from the curve's shape only (confidence at most {}); no "
                  "counterfactual rerun confirmed them",
                  num(kCurveOnlyMaxConfidence)));
  if (options.num_classes < 2) {
    rep.notes.push_back(
        "chance level not judged: the number of classes is unknown (pass --num-classes K to "
        "compare the loss with ln K and the accuracy with 1/K)");
  }
  if (epoch_level) {
    rep.notes.push_back(
        "one row per epoch, numbered epoch + 1 (\"step 7\" is the state after epoch 6): spikes and "
        "oscillation within an epoch are invisible, and the initial loss (before any update) is "
        "unknown; log per step to see them");
  }
  const bool has_val =
      std::any_of(record.epochs.begin(), record.epochs.end(), [](const EpochSample& e) {
        return std::isfinite(e.val_loss) || std::isfinite(e.val_accuracy);
      });
  if (!has_val) {
    rep.notes.push_back(
        "no validation curve: overfitting and validation accuracy at chance were not judged "
        "(map one with --val-loss-column / --val-accuracy-column)");
  }
  if (!lr.logged) {
    rep.notes.push_back(
        "no learning-rate column: lr too high/low and schedule problems are judged from the loss "
        "shape alone (map one with --lr-column)");
  }
  for (const auto& note : d.notes) {
    if (note.rfind("weak suspicion", 0) != 0) rep.notes.push_back(note);
  }
  rep.notes.insert(rep.notes.end(), weak.begin(), weak.end());
  std::set<std::string> seen;
  for (const auto& f : findings) {
    if (f.cause == "healthy" || !seen.insert(f.cause).second) continue;
    const std::string how = separating_signal(f.cause);
    if (!how.empty()) rep.notes.push_back(fmt::format("to check {}: {}", f.cause, how));
  }
  return rep;
}

}  // namespace lossdoctor::logs
