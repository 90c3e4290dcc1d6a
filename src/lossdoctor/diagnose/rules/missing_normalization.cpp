// missing_normalization: a deep ReLU stack without batch norm (dead units, vanishing gradients).
//
// Evidence: at least `missing_normalization.deep` weight layers, no batch norm, vanishing
// gradients or dead units, and a stalled run (weight `weight`).
// Penalties: fewer than `shallow` weight layers or no ReLU-family layer — too shallow, or not a
// ReLU stack (`shallow_penalty`).
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_missing_normalization(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.missing_normalization;
  const RecordSignals& sig = ctx.signals;
  const std::string cause = "missing_normalization";
  if (sig.weight_layers >= o.deep && !sig.has_batchnorm &&
      (ctx.has("vanishing_gradient") || ctx.has("dead_units")) && ctx.stalled) {
    out.evidence(cause).add(o.weight,
                            fmt::format("{} weight layers and no batch norm", sig.weight_layers));
  }
  if (sig.weight_layers < o.shallow || sig.relu_layers == 0) {
    out.penalise(cause, o.shallow_penalty,
                 fmt::format("{} weight layers{}: too shallow or not a ReLU stack",
                             sig.weight_layers, sig.relu_layers == 0 ? ", no ReLU" : ""));
  }
}

}  // namespace lossdoctor::diagnose
