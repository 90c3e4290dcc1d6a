// model_in_eval_mode (Monitor records): the loop trains a model left in eval mode.
//
// Evidence: in a hand-written loop, more than `model_in_eval_mode.eval_fraction` of the steps
// were taken with the model in eval mode although it has batch norm or dropout layers (weight
// `weight`). A model without such layers behaves the same in both modes and is never flagged
// (the Monitor counts only steps of models that have them).
// Penalties: none.
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_model_in_eval_mode(const RuleContext& ctx, Collector& out) {
  const RunRecord& r = ctx.record;
  if (!r.custom_loop || r.steps.empty()) return;
  const double fraction =
      static_cast<double>(r.loop.eval_mode_steps) / static_cast<double>(r.steps.size());
  if (fraction <= ctx.options.model_in_eval_mode.eval_fraction) return;
  out.evidence("model_in_eval_mode")
      .add(ctx.options.model_in_eval_mode.weight,
           fmt::format("{} of {} steps were taken with the model in eval mode (model.training "
                       "False) although it has batch norm or dropout layers",
                       r.loop.eval_mode_steps, r.steps.size()));
}

}  // namespace lossdoctor::diagnose
