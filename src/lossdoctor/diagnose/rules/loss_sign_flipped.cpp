// loss_sign_flipped (Monitor records): the loop minimises minus the loss.
//
// Evidence: in a hand-written loop, the reported loss equals minus the cross-entropy the
// Monitor computes from the outputs at more than `loss_sign_flipped.negated_fraction` of the
// steps (weight `negated_weight`); otherwise a cross-entropy that ends below `negative_loss`,
// which it cannot (weight `negative_loss_weight`).
// Penalties: none.
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_loss_sign_flipped(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.loss_sign_flipped;
  const RunRecord& r = ctx.record;
  const RecordSignals& sig = ctx.signals;
  if (!r.custom_loop) return;
  if (sig.negated_loss_fraction > o.negated_fraction) {
    out.evidence("loss_sign_flipped")
        .add(o.negated_weight,
             fmt::format("the reported loss equals minus the cross-entropy at {:.0f}% of steps",
                         100 * sig.negated_loss_fraction));
  } else if (r.loss == "cross_entropy" && sig.final_loss < o.negative_loss &&
             std::isfinite(sig.final_loss)) {
    out.evidence("loss_sign_flipped")
        .add(o.negative_loss_weight,
             fmt::format("cross-entropy cannot be negative, yet the loss reached {}",
                         fmt_num(sig.final_loss)));
  }
}

}  // namespace lossdoctor::diagnose
