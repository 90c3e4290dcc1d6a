// bad_init_scale: the initial weights are far too large, too small, or all equal.
//
// Evidence: a weight layer that starts with all weights zero (weight
// `bad_init_scale.zero_weights`); at step 0, an activation scale that changes more than
// `activation_growth`× (or less than `activation_shrink`×) from the first to the last weight
// layer of a model with at least `min_weight_layers` weight layers (`activation_weight`).
// Penalties: the gradients are never reset (`gradients_not_reset_penalty`); lint flags heavy
// regularisation but not the initialisation — dropout rescales the activations
// (`regularization_penalty`).
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_bad_init_scale(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.bad_init_scale;
  const RecordSignals& sig = ctx.signals;
  const std::string cause = "bad_init_scale";
  if (sig.zero_initial_weights) {
    out.evidence(cause).add(
        o.zero_weights, "a weight layer starts with all weights zero: its units stay identical");
  }
  if (std::isfinite(sig.initial_activation_growth) && sig.weight_layers >= o.min_weight_layers &&
      (sig.initial_activation_growth > o.activation_growth ||
       sig.initial_activation_growth < o.activation_shrink)) {
    out.evidence(cause).add(o.activation_weight,
                            fmt::format("at step 0 the activation scale changes {:.3g}× from the "
                                        "first to the last weight layer",
                                        sig.initial_activation_growth));
  }

  if (gradients_accumulate(ctx)) {
    out.penalise(cause, o.gradients_not_reset_penalty,
                 "the growing steps come from gradients that are never reset");
  }
  if (ctx.lint_has("excessive_regularization") && !ctx.lint_has(cause)) {
    out.penalise(cause, o.regularization_penalty,
                 "heavy dropout rescales the activations: the odd start follows from it");
  }
}

}  // namespace lossdoctor::diagnose
