// unnormalized_input: the inputs reach the model at the wrong scale.
//
// Evidence: the median input magnitude is above `unnormalized_input.raw_max_abs` (raw 0–255
// pixels; weight `raw`, `raw_unstable_or_stalled` when the run is unstable or stalled) or below
// `tiny_max_abs` (scaled twice; weight `tiny`, `tiny_stalled` when the run is stalled).
// Penalties: none (raw inputs count against lr_too_high, in its rule).
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool inputs_look_raw(const RuleContext& ctx) {
  return ctx.signals.input_max_abs > ctx.options.unnormalized_input.raw_max_abs;
}

void rule_unnormalized_input(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.unnormalized_input;
  const RecordSignals& sig = ctx.signals;
  if (inputs_look_raw(ctx)) {
    out.evidence("unnormalized_input")
        .add(ctx.unstable || ctx.stalled ? o.raw_unstable_or_stalled : o.raw,
             fmt::format(
                 "inputs reach the model with magnitudes up to {} (mean {}, std {}): raw pixel "
                 "values",
                 fmt_num(sig.input_max_abs), fmt_num(sig.input_mean), fmt_num(sig.input_std)));
  } else if (sig.input_max_abs > 0 && sig.input_max_abs < o.tiny_max_abs) {
    out.evidence("unnormalized_input")
        .add(ctx.stalled ? o.tiny_stalled : o.tiny,
             fmt::format("inputs never exceed {} in magnitude (std {}): scaled twice?",
                         fmt_num(sig.input_max_abs), fmt_num(sig.input_std)));
  }
}

}  // namespace lossdoctor::diagnose
