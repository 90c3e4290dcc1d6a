// bad_lr_schedule: the schedule drives the learning rate somewhere harmful.
//
// Evidence: the recorded rate grew more than `bad_lr_schedule.growth`× the larger of its first
// value and the spec's rate (a warm-up ramps up to the spec's rate by plan; weight
// `growth_weight`, `growth_weight_unstable` in an unstable run); otherwise, in a run of at least
// `decay_min_steps` steps, the rate never came within `never_reached` × the spec's rate (a
// warm-up far longer than the run), or spent more than `frozen_fraction` of the steps below
// `decay` × its peak, so the run froze (either: `decay_weight`). A cosine or linear decay to zero
// at the planned end spends only its last few steps there, and is the plan. A frozen rate's
// finding starts (first_step) at the first step below `decay` × its peak, so its confirmation
// rerun is judged from there on (experiment::judged_from_onset).
// Penalties: none.
#include <fmt/format.h>

#include <algorithm>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_bad_lr_schedule(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.bad_lr_schedule;
  const RecordSignals& sig = ctx.signals;
  if (sig.lr_first <= 0) return;
  const double planned = ctx.record.base_lr > 0 ? ctx.record.base_lr : sig.lr_first;
  if (sig.lr_max / std::max(sig.lr_first, planned) > o.growth) {
    out.evidence("bad_lr_schedule")
        .add(
            ctx.unstable ? o.growth_weight_unstable : o.growth_weight,
            fmt::format("the learning rate grew from {} to {} during the run (the spec's rate: {})",
                        fmt_num(sig.lr_first), fmt_num(sig.lr_max), fmt_num(planned)));
    return;
  }
  const auto& steps = ctx.record.steps;
  if (sig.steps < o.decay_min_steps || steps.empty()) return;
  if (sig.lr_max < o.never_reached * planned) {
    out.evidence("bad_lr_schedule")
        .add(o.decay_weight,
             fmt::format("the learning rate stayed at or below {} for all {} steps: it never came "
                         "within {}× of the spec's rate {}",
                         fmt_num(sig.lr_max), sig.steps, fmt_num(1 / o.never_reached),
                         fmt_num(planned)));
    return;
  }
  const auto is_frozen = [&](const StepSample& s) { return s.lr < o.decay * sig.lr_max; };
  const auto frozen = std::count_if(steps.begin(), steps.end(), is_frozen);
  const double fraction = static_cast<double>(frozen) / static_cast<double>(steps.size());
  if (fraction <= o.frozen_fraction) return;
  Candidate& c = out.evidence("bad_lr_schedule");
  // The fault shows where the rate froze, not before: a rerun that keeps the rate up is judged
  // from there (a run annealing fast is ahead of it until then).
  const auto first_frozen = std::find_if(steps.begin(), steps.end(), is_frozen);
  if (!c.first_step || first_frozen->step < *c.first_step) c.first_step = first_frozen->step;
  c.add(o.decay_weight,
        fmt::format("the learning rate decayed from {} to {}: {:.0f}% of the {} steps ran below "
                    "{}× its peak {}",
                    fmt_num(sig.lr_first), fmt_num(sig.lr_last), 100 * fraction, sig.steps,
                    fmt_num(o.decay), fmt_num(sig.lr_max)));
}

}  // namespace lossdoctor::diagnose
