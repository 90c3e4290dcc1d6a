// lr_too_low: the updates are tiny although the gradients are healthy.
//
// Evidence (options `lr_too_low.*`): a sluggish run (median update ratio below
// `small_update_ratio`; a layer that got no gradient does not count as moving slowly) whose updates
// are not mostly exact zeros (`max_zero_update_fraction`): weight `small_updates`, or
// `tiny_updates` below `tiny_update_ratio`, plus `stalled_bonus` when the run is stalled, and the
// update_ratio_out_of_range symptom at `update_ratio_symptom` when it says the updates are too
// small (not when a layer overshoots); a rate below the optimiser's usual range in a sluggish run
// (`below_usual_range`); its fix is then the optimiser's usual rate (else lr × 10, the causes
// table's default). Penalties: vanishing gradients along with the small updates
// (`vanishing_gradient_penalty`); updates exactly zero, not small (`zero_updates_penalty`); a rate
// the schedule shrank below `schedule_shrink_ratio` of its start while lint flags the schedule
// (`schedule_shrank_penalty`); a rate inside the optimiser's usual range that neither lint nor
// the schedule questions (`usual_rate_penalty`: a stall for structural reasons — a dead
// bottleneck, dead units — has small updates because its gradients are small).
#include <fmt/format.h>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/rules/rules.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {

void rule_lr_too_low(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.lr_too_low;
  const RunRecord& r = ctx.record;
  const RecordSignals& sig = ctx.signals;
  const std::string cause = "lr_too_low";

  if (ctx.sluggish && sig.zero_update_fraction < o.max_zero_update_fraction) {
    Candidate& c = out.evidence(cause);
    const double w =
        sig.median_update_ratio < o.tiny_update_ratio ? o.tiny_updates : o.small_updates;
    c.add(ctx.stalled ? w + o.stalled_bonus : w,
          fmt::format("each step changes the weights by only {:.2g} of their norm (median; "
                      "healthy ≈ 1e-3)",
                      sig.median_update_ratio));
    const Symptom* s = ctx.find("update_ratio_out_of_range");
    if (s != nullptr && !update_ratio_too_large(*s)) c.add(o.update_ratio_symptom, *s);
    if (ctx.has("vanishing_gradient")) {
      out.penalise(cause, o.vanishing_gradient_penalty,
                   "gradients vanish in early layers: small updates follow from that");
    }
  }
  if (r.base_lr > 0 && spec::lr_below_usual_range(r.optimizer, r.base_lr) &&
      !spec::lr_in_usual_range(r.optimizer, r.base_lr) && ctx.sluggish) {
    Candidate& c = out.evidence(cause);
    c.add(o.below_usual_range,
          fmt::format("lr {} is below the usual range for {}", fmt_num(r.base_lr), r.optimizer));
    // Far below the range, × 10 may still be too little to show within the window: suggest the
    // optimiser's usual rate (a lint fix, added earlier, wins).
    const double usual = spec::optimizer_traits(r.optimizer).usual_lr;
    if (usual > 10 * r.base_lr) c.fix.emplace("optimizer.lr", fmt::format("{:.3g}", usual));
  }

  if (weights_never_move(ctx)) {
    out.penalise(cause, o.zero_updates_penalty, "updates are exactly zero, not small");
  }
  const bool schedule_shrank =
      sig.lr_first > 0 && sig.lr_last / sig.lr_first < o.schedule_shrink_ratio;
  if (schedule_shrank && ctx.lint_has("bad_lr_schedule")) {
    out.penalise(cause, o.schedule_shrank_penalty,
                 "the rate is small because the schedule shrank it");
  }
  if (spec::lr_in_usual_range(r.optimizer, r.base_lr) && !ctx.lint_has(cause) && !schedule_shrank) {
    out.penalise(cause, o.usual_rate_penalty,
                 fmt::format("lr {} is usual for {}", fmt_num(r.base_lr), r.optimizer));
  }
}

}  // namespace lossdoctor::diagnose
