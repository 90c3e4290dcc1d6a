// grad_clip_too_tight: gradient clipping shrinks every step to almost nothing.
//
// Evidence: after at least `grad_clip_too_tight.min_steps` steps, the median gradient norm is
// more than `clipped_ratio`× the clip norm (weight `weight`, `weight_stalled` when the run is
// stalled).
// Screening: a median gradient norm above `screen_ratio`× the clip norm (most steps shortened
// several times over) weighs `screen_weight` as spec evidence (like an info lint finding): when
// the run trains normally it is not a verdict, but a healthy-looking run gets a rerun without
// the clip.
// Penalties: none.
#include <fmt/format.h>

#include <vector>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_grad_clip_too_tight(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.grad_clip_too_tight;
  const RunRecord& r = ctx.record;
  if (r.clip_grad_norm <= 0 || ctx.signals.steps < o.min_steps) return;
  std::vector<double> grads;
  grads.reserve(r.steps.size());
  for (const auto& st : r.steps) grads.push_back(st.grad_norm);
  const double g = median(grads);
  if (g > o.clipped_ratio * r.clip_grad_norm) {
    out.evidence("grad_clip_too_tight")
        .add(ctx.stalled ? o.weight_stalled : o.weight,
             fmt::format("the gradient norm (median {}) is clipped to {}: every step is shrunk "
                         "{:.0f}×",
                         fmt_num(g), fmt_num(r.clip_grad_norm), g / r.clip_grad_norm));
  } else if (g > o.screen_ratio * r.clip_grad_norm) {
    out.evidence("grad_clip_too_tight")
        .add_static(o.screen_weight,
                    fmt::format("the gradient norm (median {}) is clipped to {}: most steps are "
                                "shortened {:.1f}×",
                                fmt_num(g), fmt_num(r.clip_grad_norm), g / r.clip_grad_norm));
  }
}

}  // namespace lossdoctor::diagnose
