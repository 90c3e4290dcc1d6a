// lr_not_scaled_for_global_batch (data-parallel records): the rate did not follow the global
// batch.
//
// Evidence: with at least `lr_not_scaled_for_global_batch.min_world_size` ranks,
//   - the rate was not scaled (optimizer.lr_scaling: none) and the run is sluggish (its updates
//     are tiny): weight `unscaled_slow`, + `stalled_bonus` when it is also stalled (a run stalled
//     for another reason, e.g. dead units, with normal-sized updates is not this cause), or
//     `shortfall_bonus` when the missing factor accounts for the whole shortfall: a rate inside
//     the optimiser's usual range whose median update ratio × N (the linear rule's factor)
//     reaches the sluggish line, `small_update_ratio` (a rate far too low even when scaled is
//     lr_too_low's case);
//   - the rate was scaled up (linear or sqrt) with no warmup and the run became unstable, or its
//     first probed step already overshot (median update ratio above `overshoot_update_ratio`:
//     the first steps at the full scaled rate on random weights, what the warmup prevents):
//     weight `scaled_unstable`, + `early_bonus` when the first unstable symptom (or that
//     overshooting probe) came within `early_steps` steps.
// Penalties: none (lr_too_low and lr_too_high judge the rate itself).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lossdoctor/diagnose/rules/rules.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {

void rule_lr_not_scaled_for_global_batch(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.lr_not_scaled_for_global_batch;
  const RecordSignals& sig = ctx.signals;
  if (!d || d->world_size < o.min_world_size) return;
  const std::string grown = fmt::format("{} ranks × batch {} = global batch {}", d->world_size,
                                        ctx.record.batch_size, d->global_batch_size);
  if (d->lr_scale <= 1.0 && ctx.sluggish) {
    // The shortfall is about the missing factor N: N× the updates would no longer be sluggish,
    // from a rate that is usual for the optimiser (not one far too low whatever the batch).
    const bool explained = ctx.record.base_lr > 0 &&
                           spec::lr_in_usual_range(ctx.record.optimizer, ctx.record.base_lr) &&
                           sig.median_update_ratio * static_cast<double>(d->world_size) >=
                               ctx.options.small_update_ratio;
    std::string why;
    if (ctx.stalled) why = " and is stalled";
    if (explained) {
      why += fmt::format(
          "; {}× the rate (the linear rule) would lift it to about {}, out of "
          "the sluggish range",
          d->world_size, fmt_num(sig.median_update_ratio * static_cast<double>(d->world_size)));
    }
    out.evidence("lr_not_scaled_for_global_batch")
        .add(
            o.unscaled_slow + (ctx.stalled ? o.stalled_bonus
                               : explained ? o.shortfall_bonus
                                           : 0.0),
            fmt::format("{}, but the rate stayed at {} (optimizer.lr_scaling: none) and the run "
                        "moves its weights very little (median update ratio {}){}",
                        grown, fmt_num(ctx.record.base_lr), fmt_num(sig.median_update_ratio), why));
    return;
  }
  if (d->lr_scale <= 1.0 || d->warmup_steps != 0) return;
  // The first probed step overshot: the scaled rate hit the random weights at full strength.
  const bool overshot =
      std::isfinite(sig.early_update_ratio) && sig.early_update_ratio > o.overshoot_update_ratio;
  if (!ctx.unstable && !overshot) return;
  int64_t first = std::numeric_limits<int64_t>::max();
  for (const auto& s : ctx.symptoms) {
    if (s.step >= 0 &&
        std::find(ctx.options.unstable_symptoms.begin(), ctx.options.unstable_symptoms.end(),
                  s.id) != ctx.options.unstable_symptoms.end())
      first = std::min(first, s.step);
  }
  if (overshot && !ctx.record.probes.empty())
    first = std::min(first, ctx.record.probes.front().step);
  const bool early = first <= o.early_steps;
  Candidate& c = out.evidence("lr_not_scaled_for_global_batch");
  const std::string scaled = fmt::format("{}: the rate was scaled {} to {} with no warmup", grown,
                                         d->lr_scaling, fmt_num(ctx.record.base_lr * d->lr_scale));
  c.add(o.scaled_unstable + (early ? o.early_bonus : 0.0),
        ctx.unstable
            ? fmt::format("{} and the run became unstable{}", scaled,
                          early ? fmt::format(" by step {}", first) : "")
            : fmt::format("{} and its first steps overshot: the first probed step changed the "
                          "weights by {:.0f}% of their norm (healthy ≈ 0.1%)",
                          scaled, 100 * sig.early_update_ratio));
  c.fix["schedule.warmup_steps"] = "100";
}

}  // namespace lossdoctor::diagnose
