// batch_too_small: gradients from a handful of samples point in random directions.
//
// Evidence: batches of at most `batch_too_small.small_batch` samples in an unstable run or one
// with noisy gradients (weight `small_batch_weight`, `tiny_batch_weight` for at most
// `tiny_batch`).
// Penalties: batches of at least `large_batch` samples are not small, unless lint flags the
// batch size (`large_batch_penalty`).
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_batch_too_small(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.batch_too_small;
  const int64_t batch = ctx.record.batch_size;
  const std::string cause = "batch_too_small";
  if (batch > 0 && batch <= o.small_batch && (ctx.unstable || ctx.has("noisy_gradient"))) {
    out.evidence(cause).add(batch <= o.tiny_batch ? o.tiny_batch_weight : o.small_batch_weight,
                            fmt::format("batches of {} sample{}", batch, batch == 1 ? "" : "s"));
  }
  if (batch >= o.large_batch && !ctx.lint_has(cause)) {
    out.penalise(cause, o.large_batch_penalty,
                 fmt::format("batches of {} are not small: the gradient noise comes from "
                             "elsewhere",
                             batch));
  }
}

}  // namespace lossdoctor::diagnose
