#include "lossdoctor/doctor/doctor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <set>

#include "lossdoctor/audit/checks.hpp"
#include "lossdoctor/audit/label_agreement.hpp"
#include "lossdoctor/audit/noise_share.hpp"
#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/data/pipeline.hpp"
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/diagnose/lr_bracket.hpp"
#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/probe/trainer_probe.hpp"
#include "lossdoctor/train/distributed.hpp"
#include "lossdoctor/train/runnable.hpp"
#include "lossdoctor/util/interrupt.hpp"

namespace lossdoctor::doctor {
namespace {

using probe::TrainerProbe;

constexpr int kSettleChecks = 4;  ///< same verdict and top cause this many checks in a row
/// Not settled while the schedule will drive the rate above this many times the highest rate so
/// far within the budget (a warmup's last third, which rises 1.5×, does not hold a run back).
constexpr double kRateRiseFactor = 2.0;

std::map<std::string, std::vector<int64_t>> injected_of(const data::Dataset& ds,
                                                        const spec::Spec& spec) {
  std::map<std::string, std::vector<int64_t>> out;
  if (!spec.data.inject.any()) return out;
  out["label_noise"] = ds.injected.label_noise;
  out["corrupt"] = ds.injected.corrupt;
  // Data-parallel faults: the ranks they were injected on (a flag for all ranks: [-1]).
  const spec::DistributedInjectSpec& dist = spec.data.inject.distributed;
  if (dist.same_data_on_every_rank) out["distributed.same_data_on_every_rank"] = {-1};
  if (dist.no_reshuffle) out["distributed.no_reshuffle"] = {-1};
  if (dist.skip_update_on_rank >= 0)
    out["distributed.skip_update_on_rank"] = {dist.skip_update_on_rank};
  if (dist.corrupt_rank >= 0) out["distributed.corrupt_rank"] = {dist.corrupt_rank};
  if (dist.slow_rank >= 0) out["distributed.slow_rank"] = {dist.slow_rank};
  return out;
}

lint::LintContext lint_context(const data::Dataset& ds, const spec::Spec& spec) {
  lint::LintContext ctx;
  ctx.num_classes = ds.num_classes;
  if (ds.train.size() > 0) {
    const data::Pipeline pipeline = data::make_train_pipeline(spec.data);
    const auto out =
        pipeline.check({ds.train.images.size(1), ds.train.images.size(2), ds.train.images.size(3)});
    ctx.input_shape = std::array<int64_t, 3>{out[0], out[1], out[2]};
    const at::Tensor mean = ds.train.images.mean({0, 2, 3});
    const at::Tensor sd = ds.train.images.std({0, 2, 3});
    for (int64_t c = 0; c < mean.size(0); ++c) {
      ctx.pixel_mean.push_back(mean[c].item<double>());
      ctx.pixel_std.push_back(sd[c].item<double>());
    }
  }
  return ctx;
}

/// The audit's data checks that need no training (duplicates aside: the slowest, and they bear on
/// the loss only through label conflicts), and the label agreement across the splits (two small
/// models, unless switched off), as evidence for the data causes; the agreement's note goes to
/// `notes`, the noise share's and the agreement's measurements (for the record) to `noise_share`
/// and `agreement`.
/// Share of the training set below which audit outliers are not evidence for a diagnosis.
constexpr double kMinOutlierShare = 0.005;

std::vector<Finding> data_findings(const data::Dataset& ds, const spec::Spec& spec,
                                   bool label_agreement, std::vector<std::string>& notes,
                                   audit::NoiseShare& noise_share,
                                   std::optional<LabelAgreementZ>& agreement_z) {
  std::vector<Finding> out;
  const auto append = [&](std::vector<Finding> more) {
    for (auto& f : more) out.push_back(std::move(f));
  };
  append(audit::audit_integrity(ds));
  // A handful of odd-looking (but finite) images cannot move the loss of a run over thousands:
  // below kMinOutlierShare of the training set they stay in `audit`, not in the diagnosis.
  for (auto& f : audit::audit_outliers(ds)) {
    if (static_cast<double>(f.samples.size()) >=
        kMinOutlierShare * static_cast<double>(ds.train.size())) {
      out.push_back(std::move(f));
    }
  }
  append(audit::audit_ordering(ds, spec.data.shuffle));
  append(audit::audit_preparation(ds, spec.data));
  append(audit::audit_balance(ds));
  // More noise-like images in training than in validation: corruption the run's own signal
  // misses when the model learns too slowly to tell noise from content (noise_share.hpp); no
  // more of them than that excess can be corruption (the corrupt_samples rule).
  // Both splits' image kinds once: the noise share and the label agreement read them both.
  data::SplitImageKinds kinds;
  kinds.train = data::odd_image_kinds(ds.train.images);
  kinds.val = data::odd_image_kinds(ds.val.images);
  noise_share = audit::measure_noise_share(ds, {}, &kinds);
  if (auto f = audit::noise_share_finding(noise_share)) out.push_back(std::move(*f));
  // Label evidence that needs no progress from the run: a run at chance under heavy label noise
  // shows no gap between validation and training accuracy (label_agreement.hpp). Every suspect:
  // a label_noise rerun drops them all.
  if (!label_agreement) {
    notes.push_back("label agreement: not measured (--no-label-agreement)");
    return out;
  }
  const audit::LabelAgreement agreement = audit::measure_label_agreement(ds, spec.data, {}, &kinds);
  notes.push_back(audit::label_agreement_note(agreement));
  if (agreement.measured) agreement_z = LabelAgreementZ{agreement.z(), agreement.learned_z()};
  if (auto f = audit::label_agreement_finding(agreement, {}, agreement.suspects.size())) {
    out.push_back(std::move(*f));
  }
  return out;
}

/// Re-diagnoses every `check_every` steps and ends the run once the answer stops changing.
class SettleWatcher : public train::TrainObserver {
 public:
  SettleWatcher(const TrainerProbe& probe, const std::vector<Finding>& lint_findings,
                const std::vector<Finding>& audit_findings, const DiagnoseOptions& o,
                const train::Trainer& trainer)
      : probe_(probe),
        lint_(lint_findings),
        audit_(audit_findings),
        options_(o),
        schedule_(trainer.schedule()),
        steps_per_epoch_(std::max<int64_t>(1, trainer.train_loader().batches_per_epoch())),
        end_(trainer.total_steps()) {}

  void after_step(train::Trainer&, const train::StepView& view) override {
    const int64_t done = view.step + 1;
    if (done % options_.check_every != 0) return;
    const RunRecord& record = probe_.record();
    const auto symptoms = diagnose::detect_symptoms(record);
    const auto d = diagnose::diagnose(record, symptoms, lint_, audit_);
    const std::string top = d.findings.empty() ? "healthy" : d.findings.front().cause;
    timeline.push_back({done, top, d.findings.empty() ? 0.0 : d.findings.front().confidence});
    streak_ = top == last_top_ ? streak_ + 1 : 1;
    last_top_ = top;
    const int64_t needed = diagnose::early_stop_min_steps(
        top, symptoms, options_.min_steps, options_.healthy_min_steps,
        diagnose::label_evidence_steps(record),
        train::rate_rises_ahead(schedule_, done, end_, steps_per_epoch_, kRateRiseFactor),
        diagnose::validation_at_chance_now(record));
    settled_ = options_.early_stop && done >= needed && streak_ >= kSettleChecks;
  }
  bool should_stop(train::Trainer&) override { return settled_; }

  std::vector<report::Report::TimelineEntry> timeline;

 private:
  const TrainerProbe& probe_;
  const std::vector<Finding>& lint_;
  const std::vector<Finding>& audit_;
  DiagnoseOptions options_;
  /// The trainer's own schedule, to foresee the budget's remaining rates.
  const train::LrSchedule& schedule_;
  int64_t steps_per_epoch_;
  int64_t end_;  ///< the budget's last step + 1
  std::string last_top_;
  int streak_ = 0;
  bool settled_ = false;
};

/// The causes of `findings`, in order (for a note).
std::vector<std::string> causes_of(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  out.reserve(findings.size());
  for (const auto& f : findings) out.push_back(f.cause);
  return out;
}

}  // namespace

report::Report lint(const spec::Spec& spec, const data::WarningSink& warn) {
  const data::Dataset ds = data::load_dataset(spec.data, spec.seed, warn);
  train::check_runnable(spec, ds);  // a model that cannot be built is bad input, not "healthy"
  const lint::LintResult result = lint::lint_spec(spec, lint_context(ds, spec));
  report::Report r;
  r.command = "lint";
  r.spec = spec.file;
  r.findings = result.findings;
  r.notes = result.notes;
  if (const std::string note = data::skipped_images_note(ds); !note.empty()) {
    r.notes.push_back(note);
  }
  r.injected = injected_of(ds, spec);
  const bool faulty = std::any_of(r.findings.begin(), r.findings.end(), [](const Finding& f) {
    return f.severity == "error" || f.severity == "warning";
  });
  r.verdict = faulty ? "unhealthy" : "healthy";
  return r;
}

std::vector<std::string> weak_spec_causes(const std::vector<Finding>& lint_findings,
                                          const std::vector<Finding>& audit_findings) {
  std::set<std::string> info, stronger;
  for (const Finding& f : lint_findings) (f.severity == "info" ? info : stronger).insert(f.cause);
  for (const Finding& f : audit_findings) stronger.insert(f.cause);
  std::vector<std::string> out;
  std::set_difference(info.begin(), info.end(), stronger.begin(), stronger.end(),
                      std::back_inserter(out));
  return out;
}

DiagnoseOutcome diagnose(const spec::Spec& spec, const DiagnoseOptions& options,
                         const data::WarningSink& warn) {
  train::TrainOptions topts;
  topts.progress = options.progress;
  topts.max_steps = options.budget_steps.value_or(spec.diagnose.budget_steps);
  topts.stop_on_nonfinite = true;
  topts.dataset = options.dataset;
  // Data-parallel: gather every rank's figures; rank 0 alone lints, audits and watches.
  topts.group = options.group;
  topts.gather_ranks = options.group != nullptr;
  topts.checksum_every = spec.diagnose.probe_every;
  const bool reporter = options.group == nullptr || options.group->rank() == 0;
  train::Trainer trainer(spec, topts, warn);
  lint::LintResult linted;
  if (reporter) {
    lint::LintContext lint_ctx = lint_context(trainer.dataset(), spec);
    lint_ctx.world_size = options.group != nullptr ? options.group->world_size() : 1;
    linted = lint::lint_spec(spec, lint_ctx);
  }
  std::vector<std::string> data_notes;
  audit::NoiseShare noise_share;
  std::optional<LabelAgreementZ> agreement_z;
  const std::vector<Finding> audited =
      reporter ? data_findings(trainer.dataset(), spec, options.label_agreement, data_notes,
                               noise_share, agreement_z)
               : std::vector<Finding>{};

  TrainerProbe probe(trainer);
  if (noise_share.measured) {
    probe.record().noise_like_shares =
        NoiseLikeShares{noise_share.train_share, noise_share.val_share, noise_share.standard_error};
  }
  probe.record().label_agreement = agreement_z;
  SettleWatcher watcher(probe, linted.findings, audited, options, trainer);
  trainer.add_observer(&probe);
  if (reporter) trainer.add_observer(&watcher);
  for (auto* o : options.extra_observers) trainer.add_observer(o);
  const train::TrainResult result = trainer.run();

  DiagnoseOutcome out;
  out.record = probe.record();
  out.interrupted = result.status == train::RunStatus::Interrupted;
  const auto symptoms = diagnose::detect_symptoms(out.record);
  const diagnose::Diagnosis d = diagnose::diagnose(out.record, symptoms, linted.findings, audited);
  report::Report& r = out.report;
  r.command = "diagnose";
  r.spec = spec.file;
  r.verdict = d.verdict;
  r.steps_run = result.steps;
  r.seconds = result.seconds;
  r.device = trainer.device().is_cuda() ? "cuda" : "cpu";
  r.findings = d.findings;
  r.symptoms = symptoms;
  r.notes = linted.notes;
  r.notes.insert(r.notes.end(), d.notes.begin(), d.notes.end());
  r.notes.insert(r.notes.end(), data_notes.begin(), data_notes.end());
  if (out.interrupted) {
    r.notes.push_back(fmt::format(
        "interrupted at step {}: the diagnosis covers those steps only and nothing was rerun",
        result.steps));
  }
  if (result.status == train::RunStatus::StoppedByObserver) {
    r.notes.push_back(
        fmt::format("stopped early at step {}: the diagnosis had settled", result.steps));
  }
  if (const std::string note = data::skipped_images_note(trainer.dataset()); !note.empty()) {
    r.notes.push_back(note);
  }
  r.injected = injected_of(trainer.dataset(), spec);
  r.timeline = watcher.timeline;
  if (options.group != nullptr) {
    r.world_size = result.world_size;
    r.global_batch_size = spec.batch_size * result.world_size;
    r.notes.push_back(fmt::format(
        "data-parallel: {} ranks × batch size {} = global batch {}; each rank's loss, gradient "
        "norm, label histogram and step time, and a parameter checksum every {} steps, gathered "
        "on rank 0",
        result.world_size, spec.batch_size, r.global_batch_size, spec.diagnose.probe_every));
  }
  out.to_screen = d.to_screen;
  out.weak_spec_causes = weak_spec_causes(linted.findings, audited);
  return out;
}

DiagnoseAndConfirm diagnose_and_confirm(const spec::Spec& spec, DiagnoseOptions diagnose,
                                        const experiment::ConfirmOptions& options,
                                        std::optional<bool> confirm_flag,
                                        const data::WarningSink& warn) {
  data::Dataset loaded;
  if (diagnose.dataset == nullptr) {
    loaded = data::load_dataset(spec.data, spec.seed, warn);
    diagnose.dataset = &loaded;
  }
  const data::Dataset& ds = *diagnose.dataset;
  // Data-parallel: rank 0 alone measures the yardstick, decides and judges the reruns; the other
  // ranks train each rerun it orders (experiment::follow_confirm).
  const bool reporter = diagnose.group == nullptr || diagnose.group->rank() == 0;
  experiment::Yardstick yard(options.eval_every, options.yardstick_size);
  if (reporter) diagnose.extra_observers.push_back(&yard);
  DiagnoseOutcome outcome = doctor::diagnose(spec, diagnose, warn);
  DiagnoseAndConfirm out;
  out.interrupted = outcome.interrupted;
  // Every rank takes the same branch: the flag is the same everywhere, and an interrupt stops
  // every rank after the same step.
  const bool confirming = confirm_flag.value_or(spec.diagnose.confirm) && !outcome.interrupted;
  if (confirming && !reporter) {
    experiment::ConfirmOptions o = options;
    o.group = diagnose.group;
    experiment::follow_confirm(spec, ds, o);
  } else if (confirming) {
    experiment::ConfirmOptions o = options;
    o.group = diagnose.group;
    o.weak_spec_causes = outcome.weak_spec_causes;
    if (!o.budget_steps)
      o.budget_steps = diagnose.budget_steps.value_or(spec.diagnose.budget_steps);
    const bool no_hard_symptom =
        std::none_of(outcome.report.symptoms.begin(), outcome.report.symptoms.end(),
                     [](const Symptom& s) { return diagnose::is_hard_symptom(s.id); });
    const bool looks_healthy = outcome.report.verdict == "healthy";
    // Asked to (--lr-bracket): a rate a few times off trains only worse, quietly, so bracket the
    // rate of a healthy-looking run (diagnose/lr_bracket.hpp), after the run's own suspicions.
    std::vector<Finding> bracket;
    if (looks_healthy && no_hard_symptom && diagnose.lr_bracket > 0)
      bracket =
          diagnose::lr_bracket_findings(outcome.record, diagnose.lr_bracket, outcome.to_screen);
    const bool screen = looks_healthy && !(outcome.to_screen.empty() && bracket.empty());
    // Without a hard symptom a drop arm's small change must beat a rerun's drift where the run
    // ends (ConfirmOptions::screen_drops).
    o.screen_drops = no_hard_symptom;
    // A healthy-looking run: the fix must beat a rerun's drift, and hold where the run ends.
    experiment::ConfirmOptions screening = experiment::screening_options(o);
    report::Report asked = outcome.report;
    if (screen) {
      asked.findings = outcome.to_screen;
      asked.findings.insert(asked.findings.end(), bracket.begin(), bracket.end());
      for (const auto& f : bracket) screening.uncounted_causes.push_back(f.cause);
    }
    out.confirmation =
        experiment::confirm(spec, ds, asked, outcome.record, yard, screen ? screening : o);
    bool screened_late = false;
    const auto& tested = out.confirmation->findings;
    const bool all_refuted = std::all_of(tested.begin(), tested.end(), [](const Finding& f) {
      return f.cause == "healthy" || f.status == "refuted";
    });
    // Not in a data-parallel confirmation: the other ranks follow one confirm() and return at
    // its end order, so a second one would wait for ranks that are gone.
    if (!screen && all_refuted && !outcome.to_screen.empty() && o.group == nullptr) {
      // Every finding was refuted: what the spec or the data raised below the report threshold
      // is screened like a healthy-looking run's suspicions, whether the run now looks healthy
      // or stays unhealthy by a hard symptom with no cause left (held-out zoo 7's
      // hard-c5-inputs-std-0.5 seed 0: lr_too_high raised by a jumpy first update and refuted;
      // the mis-standardised inputs were never tested).
      report::Report late = outcome.report;
      late.findings.clear();
      for (const auto& f : outcome.to_screen) {
        const bool seen = std::any_of(tested.begin(), tested.end(),
                                      [&](const Finding& g) { return g.cause == f.cause; });
        if (!seen) late.findings.push_back(f);
      }
      if (!late.findings.empty()) {
        const auto& done = out.confirmation->confirmation;
        if (screening.max_cost_ratio > 0 && done.diagnosis_steps > 0) {
          screening.max_cost_ratio = std::max(
              1.0, screening.max_cost_ratio -
                       static_cast<double>(done.steps) / static_cast<double>(done.diagnosis_steps));
        }
        const experiment::ConfirmResult second =
            experiment::confirm(spec, ds, late, outcome.record, yard, screening);
        if (!second.confirmation.arms.empty()) {
          out.confirmation->confirmation.notes.push_back(fmt::format(
              "screening: every finding was refuted, so the spec's or data's weak suspicions "
              "were handed to the reruns too ({}); only a confirmed one makes the run unhealthy",
              fmt::join(causes_of(late.findings), ", ")));
          experiment::append_screening(*out.confirmation, second);
          screened_late = true;
        }
      }
    }
    if (screen) {
      out.confirmation->confirmation.notes.insert(
          out.confirmation->confirmation.notes.begin(),
          outcome.to_screen.empty()
              ? fmt::format("screening: the run looked healthy with no suspicion, so only its "
                            "learning rate was bracketed; only a confirmed rerun makes the run "
                            "unhealthy")
              : fmt::format("screening: the run looked healthy, so its weak suspicions were "
                            "handed to the reruns ({}){}; only a confirmed one makes the run "
                            "unhealthy",
                            fmt::join(causes_of(outcome.to_screen), ", "),
                            bracket.empty() ? "" : ", then its learning rate was bracketed"));
    }
    if (screen && out.confirmation->confirmation.arms.empty()) {
      out.confirmation.reset();  // nothing was rerun: the report stays as diagnosed
    } else {
      experiment::merge_confirmation(outcome.report, *out.confirmation);
    }
    // A bracket suspicion that no rerun settled (not reached, a cause confirmed first, or
    // inconclusive) is no finding: nothing but the bracket raised it.
    const auto from_bracket = [&](const std::string& cause) {
      return std::any_of(bracket.begin(), bracket.end(),
                         [&](const Finding& b) { return b.cause == cause; });
    };
    auto& found = outcome.report.findings;
    found.erase(std::remove_if(found.begin(), found.end(),
                               [&](const Finding& f) {
                                 return f.status == "suspected" && from_bracket(f.cause);
                               }),
                found.end());
    if ((screen || screened_late) && outcome.report.verdict == "healthy") {
      // Screened suspicions no arm reached (the cost budget) stay notes, as before screening.
      auto& fs = outcome.report.findings;
      fs.erase(std::remove_if(fs.begin(), fs.end(),
                              [](const Finding& f) {
                                return f.cause != "healthy" && f.status == "suspected";
                              }),
               fs.end());
    }
  }
  if (confirming && reporter && interrupt_requested()) {
    // Ctrl-C during the reruns: the arms it cut short are inconclusive, so the verdict rests on
    // the diagnosis and the arms that finished; the caller exits as interrupted.
    out.interrupted = true;
    outcome.report.notes.push_back(
        "interrupted during the confirmation reruns: the arms cut short are inconclusive, and the "
        "verdict rests on the diagnosis and the arms that finished");
  }
  out.report = std::move(outcome.report);
  out.record = std::move(outcome.record);
  return out;
}

}  // namespace lossdoctor::doctor
