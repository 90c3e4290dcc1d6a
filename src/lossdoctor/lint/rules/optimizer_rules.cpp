// Rules on the optimiser, its schedule, gradient clipping and the batch size.

#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/lint/lint_util.hpp"
#include "lossdoctor/lint/rules/rules.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::lint::rules {

using namespace util;
using spec::OptimizerSpec;
using spec::ScheduleSpec;

namespace {

std::string opt_name(OptimizerSpec::Kind k) { return spec::optimizer_traits(k).name; }

/// Adam-like: a per-parameter step of about lr whatever the gradient's scale.
bool adam_family(OptimizerSpec::Kind k) {
  return k == OptimizerSpec::Kind::Adam || k == OptimizerSpec::Kind::AdamW ||
         k == OptimizerSpec::Kind::RmsProp;
}

using spec::usual_lr;

/// "key = value (file)": a spec value and where it was set.
std::string kv(const spec::Spec& s, const std::string& key, const std::string& value) {
  return fmt::format("{} = {} ({})", key, value, s.file.empty() ? "the spec" : s.file);
}

/// lr multiplier at the end of the planned run, and the number of decays it took.
struct Decay {
  double factor = 1.0;
  double decays = 0;
};
Decay final_decay(const spec::Spec& s, double gamma, bool per_step) {
  const Plan p = plan(s);
  const double units = per_step ? static_cast<double>(p.steps) : static_cast<double>(p.epochs);
  Decay d;
  if (s.schedule.kind == ScheduleSpec::Kind::Step)
    d.decays = std::floor((units - 1) / static_cast<double>(s.schedule.step_size));
  else if (s.schedule.kind == ScheduleSpec::Kind::Exponential)
    d.decays = units - 1;  // the last step/epoch runs at gamma^(units - 1)
  d.factor = std::pow(gamma, d.decays);
  return d;
}

constexpr double kDecayFloor = 1e-3;

/// SGD with momentum m moves by about lr / (1 - m) per unit gradient once the velocity has built
/// up; the usual recipes stay at or below 1 (lr 0.1 at momentum 0.9).
constexpr double kMomentumStepInfo = 2.0;

/// Below the warning, SGD's effective step lr / (1 - m) above kMomentumStepInfo is an info
/// finding: worth a rerun at the usual rate when the run looks healthy, not an alarm (a rate 10x
/// the twin's behind batch norm trains, 10 points worse; session 13, held-out zoo 6's
/// hard-k8-sgd-lr-0.3). Momentum at or above 0.99 is optimizer_misconfigured's finding instead.
void sgd_momentum_step_info(const spec::Spec& s, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  if (o.kind != OptimizerSpec::Kind::Sgd || o.momentum <= 0 || o.momentum >= 0.99) return;
  const double step = o.lr / (1 - o.momentum);
  if (step <= kMomentumStepInfo * (1 + 1e-9)) return;  // 0.2 / (1 - 0.9) is 2.0000000000000004
  Finding f = make_finding("lr_too_high", "info");
  f.evidence = {
      fmt::format("{} with momentum {}: an effective step lr / (1 - momentum) of {} "
                  "(usual recipes: at most 1)",
                  kv(s, "optimizer.lr", num(o.lr)), num(o.momentum), fmt::format("{:.3g}", step)),
      fmt::format("usual sgd learning rate with momentum: {}", num(usual_lr(o)))};
  f.explanation =
      "With momentum the velocity accumulates about 1 / (1 - momentum) gradients, so the step "
      "is that many times the rate. Here it is above what the usual recipes use: not enough to "
      "break training by itself (batch norm absorbs much of it), but a rerun at the usual rate "
      "often trains better.";
  f.fix["optimizer.lr"] = num(usual_lr(o));
  r.findings.push_back(std::move(f));
}

}  // namespace

void lr_too_high(const spec::Spec& s, const LintContext&, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  double err = 0, warn = 0;
  if (adam_family(o.kind)) {
    err = 0.1;
    warn = 0.01;
  } else if (o.kind == OptimizerSpec::Kind::Sgd) {
    err = 1.0;
    warn = 0.5;
  } else if (o.kind == OptimizerSpec::Kind::Adagrad) {
    err = INFINITY;
    warn = 1.0;
  } else if (o.kind == OptimizerSpec::Kind::Adadelta) {
    // Its lr multiplies a step already scaled by the gradients' history (usual 1, healthy runs
    // up to 10): an error from 100× the usual rate, like adam's 0.1; a warning from 3× the top
    // of its usual range. Unchecked before session 26, a rate of 5000 was left to the training
    // signals, whose fix (÷ 10 = 500) was still 500× too high (held-out zoo 13's
    // m22-adadelta-lr-5000).
    err = 100.0;
    warn = 30.0;
  } else {
    return;
  }
  if (o.lr < warn) {
    sgd_momentum_step_info(s, r);
    return;
  }
  const bool error = o.lr >= err;
  Finding f = make_finding("lr_too_high", error ? "error" : "warning");
  f.evidence = {fmt::format("{} with {} ({} at or above {})", kv(s, "optimizer.lr", num(o.lr)),
                            opt_name(o.kind), error ? "error" : "warning", num(error ? err : warn)),
                fmt::format("usual {} learning rate: {}", opt_name(o.kind), num(usual_lr(o)))};
  f.explanation = fmt::format(
      "A learning rate of {} is {}x the usual {} for {}, so each step overshoots the minimum it "
      "aims at. The loss oscillates, climbs, or turns NaN, and ReLU units knocked negative by a "
      "huge step stay dead.",
      num(o.lr), num(std::round(o.lr / usual_lr(o) * 10) / 10), num(usual_lr(o)), opt_name(o.kind));
  f.fix["optimizer.lr"] = num(usual_lr(o));
  r.findings.push_back(std::move(f));
}

void lr_too_low(const spec::Spec& s, const LintContext&, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  double floor = 0;
  bool strict = false;  // fire on lr < floor (adadelta) instead of lr <= floor
  switch (o.kind) {
    case OptimizerSpec::Kind::Adadelta:
      floor = 0.05;
      strict = true;
      break;
    case OptimizerSpec::Kind::Sgd:
    case OptimizerSpec::Kind::Adagrad:
      floor = 1e-5;
      break;
    default:
      floor = 1e-6;
      break;
  }
  if (strict ? o.lr >= floor : o.lr > floor) return;
  Finding f = make_finding("lr_too_low", "warning");
  f.evidence = {fmt::format("{} with {} ({} {})", kv(s, "optimizer.lr", num(o.lr)),
                            opt_name(o.kind), strict ? "below" : "at or below", num(floor)),
                fmt::format("usual {} learning rate: {}", opt_name(o.kind), num(usual_lr(o)))};
  f.explanation = fmt::format(
      "A learning rate of {} is orders of magnitude below the usual {} for {}, so every update "
      "moves the weights by a negligible amount. The loss falls so slowly that it looks flat for "
      "the whole run.",
      num(o.lr), num(usual_lr(o)), opt_name(o.kind));
  f.fix["optimizer.lr"] = num(usual_lr(o));
  r.findings.push_back(std::move(f));
}

void batch_size_one(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.batch_size != 1) return;
  const bool bn = contains(s.layers, Kind::BatchNorm);
  Finding f = make_finding("batch_too_small", bn ? "error" : "warning");
  f.evidence = {kv(s, "batch_size", "1")};
  if (bn) f.evidence.push_back("the model has batchnorm layers");
  f.explanation =
      bn ? "With one sample per batch, batch norm normalises each image by its own statistics, "
           "which are meaningless (and for dense features make every output zero), while the "
           "running averages used at evaluation drift. Every gradient is a single sample's, so "
           "the loss jumps around and can rise instead of falling."
         : "With one sample per batch every gradient is a single sample's, a very noisy estimate "
           "of the true gradient. The loss jumps from step to step and may rise for long "
           "stretches, especially at learning rates tuned for larger batches.";
  f.fix["batch_size"] = "32";
  r.findings.push_back(std::move(f));
}

void small_batch_batchnorm(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.batch_size < 2 || s.batch_size > 4 || !contains(s.layers, Kind::BatchNorm)) return;
  // Batch 2: each normalised value is ±1 whatever the image; 3–4 are still very noisy
  // statistics, worth a rerun at a larger batch when the run trains poorly.
  Finding f = make_finding("batch_too_small", s.batch_size == 2 ? "warning" : "info");
  f.evidence = {kv(s, "batch_size", std::to_string(s.batch_size)),
                "the model has batchnorm layers: each normalises over only " +
                    std::to_string(s.batch_size) + " samples"};
  f.explanation =
      "Batch norm normalises every channel by the mean and variance of the batch. Over two to "
      "four samples those statistics are mostly noise (over two, every normalised value is ±1), "
      "so the features the next layer sees change with the batch's other images, and the "
      "running averages used at evaluation describe no real batch. Training is slow and "
      "validation lags.";
  f.fix["batch_size"] = "32";
  r.findings.push_back(std::move(f));
}

void optimizer_hyperparameters(const spec::Spec& s, const LintContext&, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  Finding f = make_finding("optimizer_misconfigured", "warning");
  std::vector<std::string> what;
  bool warned = false;  // otherwise only "info" items: worth a test, not a fault on their own
  if ((o.kind == OptimizerSpec::Kind::Sgd || o.kind == OptimizerSpec::Kind::RmsProp) &&
      o.momentum >= 0.99) {
    f.evidence.push_back(
        fmt::format("{} (at or above 0.99)", kv(s, "optimizer.momentum", num(o.momentum))));
    f.fix["optimizer.momentum"] = "0.9";
    what.push_back("momentum near 1 keeps pushing in stale directions");
    warned = true;
  }
  if (o.kind == OptimizerSpec::Kind::Adam || o.kind == OptimizerSpec::Kind::AdamW) {
    if (o.eps >= 0.1) {
      f.evidence.push_back(fmt::format("{} (at or above 0.1)", kv(s, "optimizer.eps", num(o.eps))));
      f.fix["optimizer.eps"] = "1e-08";
      what.push_back("a large eps swamps the adaptive denominator and shrinks every step");
      warned = true;
    }
    if (o.beta1 >= 0.999 || o.beta2 < 0.9) {
      f.evidence.push_back(
          kv(s, "optimizer.betas", fmt::format("[{}, {}]", num(o.beta1), num(o.beta2))) +
          " (usual [0.9, 0.999])");
      f.fix["optimizer.betas"] = "[0.9, 0.999]";
      what.push_back(o.beta1 >= 0.999 ? "beta1 near 1 averages gradients over thousands of steps"
                                      : "a small beta2 makes the step size jump with each batch");
      warned = true;
    }
  }
  // info: an eps five orders of magnitude above the adaptive optimisers' default (1e-8) damps
  // the adaptive step wherever gradients are small (Adadelta's eps sets its unit: left alone).
  const bool adaptive_eps =
      o.kind == OptimizerSpec::Kind::Adam || o.kind == OptimizerSpec::Kind::AdamW ||
      o.kind == OptimizerSpec::Kind::RmsProp || o.kind == OptimizerSpec::Kind::Adagrad;
  if (adaptive_eps && o.eps >= 1e-3 && f.fix.count("optimizer.eps") == 0) {
    f.evidence.push_back(
        fmt::format("{} (at or above 0.001; default 1e-08)", kv(s, "optimizer.eps", num(o.eps))));
    f.fix["optimizer.eps"] = "1e-08";
    what.push_back("a large eps damps the adaptive step wherever the gradients are small");
  }
  if (f.evidence.empty()) return;
  if (!warned) f = with_severity(std::move(f), "info");
  std::string joined;
  for (size_t i = 0; i < what.size(); ++i) joined += (i ? "; " : "") + what[i];
  f.explanation = fmt::format(
      "The {} settings are far from the values it is designed for: {}. Updates then lag, "
      "overshoot or vanish, so the loss oscillates or creeps instead of converging.",
      opt_name(o.kind), joined);
  r.findings.push_back(std::move(f));
}

void heavy_weight_decay(const spec::Spec& s, const LintContext&, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  const bool adamw = o.kind == OptimizerSpec::Kind::AdamW;  // decoupled: larger values are usual
  // info from 100× the usual coupled decay (1e-4), or 20× AdamW's usual 0.01.
  const double info = adamw ? 0.2 : 0.01, warn = adamw ? 0.3 : 0.1, err = adamw ? 1.0 : 0.5;
  if (o.weight_decay < info) return;
  const bool error = o.weight_decay >= err;
  const char* severity = error ? "error" : o.weight_decay >= warn ? "warning" : "info";
  Finding f = make_finding("excessive_regularization", severity);
  f.evidence = {fmt::format("{} with {} (at or above {})",
                            kv(s, "optimizer.weight_decay", num(o.weight_decay)), opt_name(o.kind),
                            num(error                    ? err
                                : o.weight_decay >= warn ? warn
                                                         : info))};
  f.explanation =
      f.severity == "info"
          ? fmt::format(
                "A weight decay of {} is far above the usual {} and may hold the weights back "
                "from what the data asks of them. `lossdoctor diagnose` reruns without it to see "
                "whether the run learns faster.",
                num(o.weight_decay), adamw ? "0.01" : "1e-4")
          : fmt::format(
                "A weight decay of {} pulls every weight towards zero about as hard as the data "
                "pulls it anywhere useful. The network cannot hold the weights it needs, so the "
                "training loss plateaus high or creeps back up.",
                num(o.weight_decay));
  f.fix["optimizer.weight_decay"] = adamw ? "0.01" : "0.0001";
  r.findings.push_back(std::move(f));
}

void clip_too_tight(const spec::Spec& s, const LintContext&, LintResult& r) {
  // info up to 0.1: a tenth of the usual clip norm (1), below the gradient norm of most steps.
  if (!s.clip_grad_norm || *s.clip_grad_norm > 0.1) return;
  const bool error = *s.clip_grad_norm <= 1e-3;
  Finding f = make_finding("grad_clip_too_tight", error ? "error" : "info");
  f.evidence = {fmt::format("{} (at or below {})", kv(s, "clip_grad_norm", num(*s.clip_grad_norm)),
                            error ? "0.001" : "0.1")};
  f.explanation =
      error ? fmt::format(
                  "Every gradient is rescaled to a norm of at most {}, so each step is a tiny "
                  "fraction of what the learning rate intends. The weights barely move and the "
                  "loss stays flat.",
                  num(*s.clip_grad_norm))
            : fmt::format(
                  "Gradients are rescaled to a norm of at most {}, below the norm of most steps, "
                  "so most updates are shortened. `lossdoctor diagnose` reruns with a clip of 1 "
                  "to see whether the run learns faster.",
                  num(*s.clip_grad_norm));
  f.fix["clip_grad_norm"] = "1.0";
  r.findings.push_back(std::move(f));
}

void schedule_gamma_above_one(const spec::Spec& s, const LintContext&, LintResult& r) {
  const ScheduleSpec& sc = s.schedule;
  if (sc.kind != ScheduleSpec::Kind::Step && sc.kind != ScheduleSpec::Kind::Exponential) return;
  if (sc.gamma <= 1.0) return;
  const bool step = sc.kind == ScheduleSpec::Kind::Step;
  const Decay d = final_decay(s, sc.gamma, sc.per_step);
  Finding f = make_finding("bad_lr_schedule", "error");
  f.evidence = {fmt::format("{} with schedule {} per {}", kv(s, "schedule.gamma", num(sc.gamma)),
                            step ? "step" : "exponential", sc.per_step ? "step" : "epoch"),
                fmt::format("the lr grows {:.3g}x by the end of the planned run ({} growths)",
                            d.factor, num(d.decays))};
  f.explanation =
      "A gamma above 1 multiplies the learning rate up at every decay point instead of down. The "
      "lr keeps growing until steps overshoot, and the loss that was falling turns around and "
      "rises or explodes.";
  const double gamma = step ? 0.1 : 0.95;
  f.fix["schedule.gamma"] = num(gamma);
  if (final_decay(s, gamma, sc.per_step).factor < kDecayFloor) f.fix["schedule.per"] = "epoch";
  r.findings.push_back(std::move(f));
}

void schedule_decays_to_nothing(const spec::Spec& s, const LintContext&, LintResult& r) {
  const ScheduleSpec& sc = s.schedule;
  if (sc.kind != ScheduleSpec::Kind::Step && sc.kind != ScheduleSpec::Kind::Exponential) return;
  if (sc.gamma >= 1.0) return;
  const Decay d = final_decay(s, sc.gamma, sc.per_step);
  if (d.factor >= kDecayFloor) return;
  const Plan p = plan(s);
  Finding f = make_finding("bad_lr_schedule", "warning");
  f.evidence = {
      fmt::format(
          "schedule {} gamma {} per {}{} in {}",
          sc.kind == ScheduleSpec::Kind::Step ? "step" : "exponential", num(sc.gamma),
          sc.per_step ? "step" : "epoch",
          sc.kind == ScheduleSpec::Kind::Step ? fmt::format(", step_size {}", sc.step_size) : "",
          s.file.empty() ? "the spec" : s.file),
      fmt::format("planned run: {} steps ({} per epoch, {} epochs): {} decays", p.steps,
                  p.steps_per_epoch, p.epochs, num(d.decays)),
      fmt::format("final lr = {:.3g} x base ({:.3g}), below 0.001 x base", d.factor,
                  d.factor * s.optimizer.lr)};
  f.explanation =
      "The schedule multiplies the learning rate by gamma so many times that it falls below a "
      "thousandth of its starting value well before the run ends. From then on the updates are "
      "negligible and the loss freezes wherever it happens to be.";
  if (sc.per_step && final_decay(s, sc.gamma, false).factor >= kDecayFloor) {
    f.fix["schedule.per"] = "epoch";
  } else {
    // The gamma that leaves 1% of the lr after all decays, rounded up.
    double g = std::pow(0.01, 1.0 / std::max(1.0, d.decays));
    g = std::ceil(g * 1e6) / 1e6;
    if (g >= 1.0) g = 0.999999;
    f.fix["schedule.gamma"] = num(g);
  }
  r.findings.push_back(std::move(f));
}

}  // namespace lossdoctor::lint::rules
