// Rules on a data-parallel run's spec: they need LintContext::world_size (diagnose --nproc sets
// it; a single-process lint has 1 and they stay silent).

#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/lint/lint_util.hpp"
#include "lossdoctor/lint/rules/rules.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::lint::rules {

using namespace util;
using spec::OptimizerSpec;

void lr_scaled_without_warmup(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const OptimizerSpec& o = s.optimizer;
  if (ctx.world_size < 2 || o.lr_scaling == OptimizerSpec::LrScaling::None) return;
  if (s.schedule.warmup_steps > 0) return;
  const double n = static_cast<double>(ctx.world_size);
  const double scale = o.lr_scaling == OptimizerSpec::LrScaling::Linear ? n : std::sqrt(n);
  const std::string name = spec::optimizer_traits(o.kind).name;
  // Only a scaled rate that leaves the optimiser's usual range needs the warmup.
  if (spec::lr_in_usual_range(name, o.lr * scale) ||
      spec::lr_below_usual_range(name, o.lr * scale) || !spec::lr_in_usual_range(name, o.lr))
    return;
  Finding f = make_finding("lr_not_scaled_for_global_batch", "warning");
  f.evidence = {
      fmt::format("optimizer.lr_scaling = {} over {} ranks: lr {} × {} = {}, above the usual "
                  "range for {}",
                  spec::lr_scaling_name(o.lr_scaling), ctx.world_size, num(o.lr), num(scale),
                  num(o.lr * scale), name),
      "schedule.warmup_steps = 0: the first steps run at the full scaled rate"};
  f.explanation =
      "Scaling the learning rate with the global batch is right, but jumping to the scaled rate "
      "at step 0, while the weights are still random, can blow the first steps up. A short "
      "warmup lets the rate grow to its scaled value.";
  f.fix["schedule.warmup_steps"] = "100";
  r.findings.push_back(std::move(f));
}

}  // namespace lossdoctor::lint::rules
