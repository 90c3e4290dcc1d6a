// gradients_not_reset (Monitor records): the loop never zeroes the gradients, so they pile up.
//
// Evidence: in a hand-written loop of at least `gradients_not_reset.min_steps` steps, the median
// |g_t − g_{t−1}|/|g_t| is below `grad_change_ratio` (fresh minibatch gradients differ by more
// than their norm) while the gradient norm grew more than `grad_norm_growth`× (weight `weight`).
// Also: the Python Monitor saw more than `not_reset_fraction` of the steps start without any
// gradient reset (weight `not_reset_weight`).
// Penalties: none (accumulating gradients count against lr_too_high and bad_init_scale, in
// their rules).
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool gradients_accumulate(const RuleContext& ctx) {
  const auto& o = ctx.options.gradients_not_reset;
  const RecordSignals& sig = ctx.signals;
  return ctx.record.custom_loop && std::isfinite(sig.median_grad_change_ratio) &&
         sig.median_grad_change_ratio < o.grad_change_ratio && sig.steps >= o.min_steps &&
         sig.grad_norm_growth > o.grad_norm_growth;
}

void rule_gradients_not_reset(const RuleContext& ctx, Collector& out) {
  const RunRecord& r = ctx.record;
  const auto& o = ctx.options.gradients_not_reset;
  if (r.custom_loop && !r.steps.empty() &&
      static_cast<double>(r.loop.grads_not_reset_steps) / static_cast<double>(r.steps.size()) >
          o.not_reset_fraction) {
    // Seen directly by the Python Monitor.
    out.evidence("gradients_not_reset")
        .add(o.not_reset_weight,
             fmt::format("{} of {} steps began with no zero_grad() call and gradients still "
                         "non-zero at the forward pass",
                         r.loop.grads_not_reset_steps, r.steps.size()));
  }
  if (!gradients_accumulate(ctx)) return;
  const RecordSignals& sig = ctx.signals;
  out.evidence("gradients_not_reset")
      .add(ctx.options.gradients_not_reset.weight,
           fmt::format(
               "consecutive gradients differ by only {:.0f}% of their norm (fresh "
               "minibatch gradients differ by more than 100%) while the gradient norm "
               "grew {:.1f}× from the first to the last quarter of the run: gradients accumulate",
               100 * sig.median_grad_change_ratio, sig.grad_norm_growth));
}

}  // namespace lossdoctor::diagnose
