// saturating_activation: deep sigmoid/tanh layers sit at their bounds, where the gradient is ~0.
//
// Evidence: none of its own (saturated_units and vanishing_gradient in the symptom table, lint).
// Penalties: the model has no sigmoid or tanh layer
// (`saturating_activation.no_saturating_layer_penalty`); its saturating layers are all tanh and
// the record shows tanh doing no harm — no saturated_units or vanishing_gradient symptom, no
// stall (`saturating_activation.unsaturated_tanh_penalty`). Unsaturated, tanh is zero-centred
// with slope about 1, as well-behaved as a ReLU; its fault is saturation. (Sigmoid is not
// excused: its slope is at most 0.25 and its outputs are not centred, whether saturated or not.)
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_saturating_activation(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.saturating_activation;
  const RecordSignals& sig = ctx.signals;
  if (sig.saturating_layers == 0) {
    out.penalise("saturating_activation", o.no_saturating_layer_penalty,
                 "no sigmoid or tanh layer in the model");
    return;
  }
  const bool measured = !ctx.record.probes.empty();
  if (measured && sig.sigmoid_layers == 0 && !ctx.has("saturated_units") &&
      !ctx.has("vanishing_gradient") && !ctx.stalled) {
    out.penalise("saturating_activation", o.unsaturated_tanh_penalty,
                 fmt::format("its tanh layers do not saturate (at most {:.0f}% of a layer's units "
                             "at ±0.99 at any probe) and the gradient does not vanish",
                             100 * sig.peak_saturated_fraction));
  }
}

}  // namespace lossdoctor::diagnose
