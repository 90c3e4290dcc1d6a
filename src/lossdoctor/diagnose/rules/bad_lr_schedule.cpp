// bad_lr_schedule: the schedule drives the learning rate somewhere harmful.
//
// Evidence: the recorded rate grew more than `bad_lr_schedule.growth`× its first value (weight
// `growth_weight`, `growth_weight_unstable` in an unstable run); otherwise it decayed below
// `decay` × its first value within a run of at least `decay_min_steps` steps (`decay_weight`).
// Penalties: none.
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_bad_lr_schedule(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.bad_lr_schedule;
  const RecordSignals& sig = ctx.signals;
  if (sig.lr_first <= 0) return;
  if (sig.lr_max / sig.lr_first > o.growth) {
    out.evidence("bad_lr_schedule")
        .add(ctx.unstable ? o.growth_weight_unstable : o.growth_weight,
             fmt::format("the learning rate grew from {} to {} during the run",
                         fmt_num(sig.lr_first), fmt_num(sig.lr_max)));
  } else if (sig.lr_last / sig.lr_first < o.decay && sig.steps >= o.decay_min_steps) {
    out.evidence("bad_lr_schedule")
        .add(o.decay_weight, fmt::format("the learning rate decayed from {} to {} within {} steps",
                                         fmt_num(sig.lr_first), fmt_num(sig.lr_last), sig.steps));
  }
}

}  // namespace lossdoctor::diagnose
