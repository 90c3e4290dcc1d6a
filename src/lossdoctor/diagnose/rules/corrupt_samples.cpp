// corrupt_samples: broken images in the training data.
//
// Evidence: the first non-finite value of the run is in the input batch (weight
// `corrupt_samples.nan_in_input`; the finding's first step is that step); more than
// `odd_input_fraction` of the training images look corrupt — NaN, constant or pure noise
// (weight `odd_input_weight_per_fraction` × that share, at most `odd_input_max_weight`).
// Penalties: none (a NaN that came in with the data counts against lr_too_high, in its rule).
#include <fmt/format.h>

#include <algorithm>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool nan_entered_with_input(const RuleContext& ctx) {
  return ctx.record.first_nonfinite && ctx.record.first_nonfinite->layer == "input";
}

void rule_corrupt_samples(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.corrupt_samples;
  const RecordSignals& sig = ctx.signals;
  if (nan_entered_with_input(ctx)) {
    Candidate& c = out.evidence("corrupt_samples");
    const int64_t step = ctx.record.first_nonfinite->step;
    c.add(o.nan_in_input, fmt::format("the first NaN/Inf is in the input batch at step {}", step));
    c.first_step = step;
  }
  if (sig.odd_input_fraction > o.odd_input_fraction) {
    out.evidence("corrupt_samples")
        .add(std::min(o.odd_input_max_weight,
                      o.odd_input_weight_per_fraction * sig.odd_input_fraction),
             fmt::format("{:.1f}% {}", 100 * sig.odd_input_fraction, kCorruptImagesSeen));
  }
}

}  // namespace lossdoctor::diagnose
