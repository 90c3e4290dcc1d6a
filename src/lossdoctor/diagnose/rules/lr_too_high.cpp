// lr_too_high: each step overshoots the minimum.
//
// Evidence (options `lr_too_high.*`): a median update ratio |Δw|/|w| above `large_update_ratio`
// (weight `update_ratio`, `update_ratio_unstable` in an unstable run; plus the
// update_ratio_out_of_range symptom at `update_ratio_symptom` when it says too large); the first
// update multiplying the loss by more than `first_update_jump` (weight `first_update_jump_weight`;
// first step 1) unless the jumped loss stays below `first_update_jump_chance_multiple` × ln K; the
// first probed update above `first_update_ratio` (`first_update_ratio_weight`; not for an adaptive
// optimiser at a rate in its usual range, whose first step is lr·sign(g) by construction); the
// weight norm growing more than `weight_norm_growth`× (`weight_norm_growth_weight`); a rate above
// the optimiser's usual range in an unstable run (`above_usual_range`); its fix is then the
// optimiser's usual rate when ÷ 10 would still leave the rate above that (a lint fix, added
// earlier, wins: a Monitor, `--record-in` or log record has no lint).
// Penalties: raw inputs explain the instability first (`unnormalized_input_penalty`); the NaN
// came in with the data (`nan_from_input_penalty`); the gradients are never reset
// (`gradients_not_reset_penalty`); the loss was wrong before the first update
// (`bad_initial_loss_penalty`); batches of at most `erratic_batch_size` make the steps erratic,
// unless lint flags the rate (`erratic_batch_penalty`).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/rules/rules.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {

void rule_lr_too_high(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.lr_too_high;
  const RunRecord& r = ctx.record;
  const RecordSignals& sig = ctx.signals;
  const std::string cause = "lr_too_high";

  if (std::isfinite(sig.median_update_ratio) && sig.steps >= ctx.options.update_ratio_min_steps &&
      sig.median_update_ratio > o.large_update_ratio) {
    Candidate& c = out.evidence(cause);
    c.add(ctx.unstable ? o.update_ratio_unstable : o.update_ratio,
          fmt::format("each step changes the weights by {:.1f}% of their norm (median; "
                      "healthy ≈ 0.1%), most at {}",
                      100 * sig.median_update_ratio, sig.largest_update_layer));
    const Symptom* s = ctx.find("update_ratio_out_of_range");
    if (s != nullptr && update_ratio_too_large(*s)) c.add(o.update_ratio_symptom, *s);
  }
  // Overshooting shows from the very first update: the loss jumps and the weights balloon.
  if (std::isfinite(sig.first_update_jump) && sig.first_update_jump > o.first_update_jump &&
      !(sig.first_update_jump * r.steps[0].loss <
        o.first_update_jump_chance_multiple * sig.chance_loss)) {
    Candidate& c = out.evidence(cause);
    c.add(o.first_update_jump_weight,
          fmt::format("the first update multiplied the loss by {:.0f} (step 0: {} → steps 1–3: {})",
                      sig.first_update_jump, fmt_num(r.steps[0].loss),
                      fmt_num(sig.first_update_jump * r.steps[0].loss)));
    if (!c.first_step) c.first_step = 1;
  }
  // Only a known optimiser has a usual range ("other" has none).
  const auto& table = spec::all_optimizer_traits();
  const auto row = std::find_if(table.begin(), table.end(),
                                [&r](const auto& t) { return t.name == r.optimizer; });
  const bool known_optimizer = row != table.end();
  const bool rate_in_usual_range =
      known_optimizer && r.base_lr > 0 && spec::lr_in_usual_range(r.optimizer, r.base_lr);
  const bool rate_above_usual = known_optimizer && r.base_lr > 0 && !rate_in_usual_range &&
                                !spec::lr_below_usual_range(r.optimizer, r.base_lr);
  // An adaptive optimiser's first step moves every weight by about the rate (Adam: lr·sign(g);
  // Adagrad: lr·g/|g|), so its first update ratio is lr / weight scale whatever the loss
  // surface: at a usual rate it says nothing (Adagrad at 0.02 moves He-initialised weights by
  // 16% and trains well). Evidence only when the rate is also outside the usual range.
  const bool sign_like_first_step = known_optimizer && row->adaptive && rate_in_usual_range;
  if (std::isfinite(sig.early_update_ratio) && sig.early_update_ratio > o.first_update_ratio &&
      !sign_like_first_step) {
    out.evidence(cause).add(o.first_update_ratio_weight,
                            fmt::format("the first probed step changed the weights by {:.0f}% of "
                                        "their norm (median over layers; healthy ≈ 0.1%)",
                                        100 * sig.early_update_ratio));
  }
  if (sig.weight_norm_growth > o.weight_norm_growth) {
    out.evidence(cause).add(
        o.weight_norm_growth_weight,
        fmt::format("the weight norm grew {:.0f}× during the run", sig.weight_norm_growth));
  }
  if (rate_above_usual && ctx.unstable) {
    Candidate& c = out.evidence(cause);
    c.add(o.above_usual_range,
          fmt::format("lr {} is above the usual range for {}", fmt_num(r.base_lr), r.optimizer));
    // Far above the range, ÷ 10 may still be a rate lint calls an error (adam at 1 → 0.1):
    // suggest the optimiser's usual rate, as lint does.
    const double usual = spec::optimizer_traits(r.optimizer).usual_lr;
    if (usual < r.base_lr / 10) c.fix.emplace("optimizer.lr", fmt::format("{:.3g}", usual));
  }

  // Look-alikes that explain the same run better.
  if (inputs_look_raw(ctx)) {
    out.penalise(cause, o.unnormalized_input_penalty,
                 "the inputs are unnormalised, which explains the instability first");
  }
  if (nan_entered_with_input(ctx)) {
    out.penalise(cause, o.nan_from_input_penalty,
                 "the NaN came in with the data, not from the updates");
  }
  if (gradients_accumulate(ctx)) {
    out.penalise(cause, o.gradients_not_reset_penalty,
                 "the growing steps come from gradients that are never reset");
  }
  if (ctx.has("bad_initial_loss")) {
    out.penalise(cause, o.bad_initial_loss_penalty,
                 "the loss was already wrong before the first update");
  }
  // Only a rate that is itself unremarkable: one that lint flags, or that lies above the
  // optimiser's usual range (a Monitor or log record has no lint), is no excuse for the batch.
  if (r.batch_size > 0 && r.batch_size <= o.erratic_batch_size && !ctx.lint_has(cause) &&
      !rate_above_usual) {
    out.penalise(
        cause, o.erratic_batch_penalty,
        fmt::format("the learning rate {} is usual for {}; batches of {} make the steps erratic",
                    fmt_num(r.base_lr), r.optimizer, r.batch_size));
  }
}

}  // namespace lossdoctor::diagnose
