// lr_not_scaled_for_global_batch (data-parallel records): the rate did not follow the global
// batch.
//
// Evidence: with at least `lr_not_scaled_for_global_batch.min_world_size` ranks,
//   - the rate was not scaled (optimizer.lr_scaling: none) and the run is sluggish (its updates
//     are tiny): weight `unscaled_slow`, + `stalled_bonus` when it is also stalled (a run stalled
//     for another reason, e.g. dead units, with normal-sized updates is not this cause);
//   - the rate was scaled up (linear or sqrt) with no warmup and the run became unstable:
//     weight `scaled_unstable`, + `early_bonus` when the first unstable symptom came within
//     `early_steps` steps.
// Penalties: none (lr_too_low and lr_too_high judge the rate itself).
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_lr_not_scaled_for_global_batch(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.lr_not_scaled_for_global_batch;
  if (!d || d->world_size < o.min_world_size) return;
  const std::string grown = fmt::format("{} ranks × batch {} = global batch {}", d->world_size,
                                        ctx.record.batch_size, d->global_batch_size);
  if (d->lr_scale <= 1.0 && ctx.sluggish) {
    out.evidence("lr_not_scaled_for_global_batch")
        .add(o.unscaled_slow + (ctx.stalled ? o.stalled_bonus : 0.0),
             fmt::format("{}, but the rate stayed at {} (optimizer.lr_scaling: none) and the run "
                         "moves its weights very little (median update ratio {}){}",
                         grown, fmt_num(ctx.record.base_lr),
                         fmt_num(ctx.signals.median_update_ratio),
                         ctx.stalled ? " and is stalled" : ""));
    return;
  }
  if (d->lr_scale > 1.0 && d->warmup_steps == 0 && ctx.unstable) {
    int64_t first = std::numeric_limits<int64_t>::max();
    for (const auto& s : ctx.symptoms) {
      if (s.step >= 0 &&
          std::find(ctx.options.unstable_symptoms.begin(), ctx.options.unstable_symptoms.end(),
                    s.id) != ctx.options.unstable_symptoms.end())
        first = std::min(first, s.step);
    }
    const bool early = first <= o.early_steps;
    Candidate& c = out.evidence("lr_not_scaled_for_global_batch");
    c.add(o.scaled_unstable + (early ? o.early_bonus : 0.0),
          fmt::format("{}: the rate was scaled {} to {} with no warmup and the run became "
                      "unstable{}",
                      grown, d->lr_scaling, fmt_num(ctx.record.base_lr * d->lr_scale),
                      early ? fmt::format(" by step {}", first) : ""));
    c.fix["schedule.warmup_steps"] = "100";
  }
}

}  // namespace lossdoctor::diagnose
