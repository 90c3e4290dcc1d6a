// params_not_updated (Monitor records): the optimiser does not move the model's weights.
//
// Evidence: in a hand-written loop, the weights did not change at more than
// `params_not_updated.zero_update_fraction` of the steps although the gradient norm was
// non-zero (weight `weight`); the unchanged_weights symptom adds its own (symptom table).
// Also: the Python Monitor found model parameters the optimiser does not hold (same weight).
// Penalties: none (exactly-zero updates count against lr_too_low, in its rule).
#include <fmt/format.h>

#include <algorithm>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool weights_never_move(const RuleContext& ctx) {
  return ctx.record.custom_loop &&
         ctx.signals.zero_update_fraction > ctx.options.params_not_updated.zero_update_fraction;
}

void rule_params_not_updated(const RuleContext& ctx, Collector& out) {
  const LoopChecks& loop = ctx.record.loop;
  if (ctx.record.custom_loop && loop.params_missing_from_optimizer > 0) {
    // Seen directly by the Python Monitor: the optimiser's parameter groups do not hold these.
    out.evidence("params_not_updated")
        .add(ctx.options.params_not_updated.weight,
             fmt::format("the optimiser holds {} of the model's {} parameter tensors ({} of its "
                         "own are not the model's)",
                         loop.model_params - loop.params_missing_from_optimizer, loop.model_params,
                         std::max<int64_t>(0, loop.optimizer_params_not_in_model)));
  }
  if (!weights_never_move(ctx)) return;
  out.evidence("params_not_updated")
      .add(ctx.options.params_not_updated.weight,
           fmt::format("the weights did not change at {:.0f}% of steps although the gradient "
                       "norm was non-zero",
                       100 * ctx.signals.zero_update_fraction));
}

}  // namespace lossdoctor::diagnose
