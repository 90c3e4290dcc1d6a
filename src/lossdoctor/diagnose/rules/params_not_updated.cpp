// params_not_updated (Monitor records): the optimiser does not move the model's weights.
//
// Evidence: in a hand-written loop, the weights did not change at more than
// `params_not_updated.zero_update_fraction` of the steps although the gradient norm was
// non-zero (weight `weight`); the unchanged_weights symptom adds its own (symptom table).
// Penalties: none (exactly-zero updates count against lr_too_low, in its rule).
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool weights_never_move(const RuleContext& ctx) {
  return ctx.record.custom_loop &&
         ctx.signals.zero_update_fraction > ctx.options.params_not_updated.zero_update_fraction;
}

void rule_params_not_updated(const RuleContext& ctx, Collector& out) {
  if (!weights_never_move(ctx)) return;
  out.evidence("params_not_updated")
      .add(ctx.options.params_not_updated.weight,
           fmt::format("the weights did not change at {:.0f}% of steps although the gradient "
                       "norm was non-zero",
                       100 * ctx.signals.zero_update_fraction));
}

}  // namespace lossdoctor::diagnose
