// saturating_activation: deep sigmoid/tanh layers sit at their bounds, where the gradient is ~0.
//
// Evidence: none of its own (saturated_units and vanishing_gradient in the symptom table, lint).
// Penalties: the model has no sigmoid or tanh layer
// (`saturating_activation.no_saturating_layer_penalty`).
#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_saturating_activation(const RuleContext& ctx, Collector& out) {
  if (ctx.signals.saturating_layers == 0) {
    out.penalise("saturating_activation",
                 ctx.options.saturating_activation.no_saturating_layer_penalty,
                 "no sigmoid or tanh layer in the model");
  }
}

}  // namespace lossdoctor::diagnose
