// loss_output_mismatch (record signals, Monitor records): the outputs do not fit the loss.
//
// Evidence: in a hand-written loop, the outputs were already probabilities (rows ≥ 0 summing
// to 1) although the loss takes logits at more than `loop_outputs.probability_fraction` of the
// steps (softmax fed to CrossEntropyLoss; weight `probability_weight`); targets outside
// [0, num_classes) at more than that share of steps (weight `labels_out_of_range_weight`).
// The stall symptoms and lint's definite findings add theirs through the tables.
// Penalties: none.
#include <fmt/format.h>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_loss_output_mismatch(const RuleContext& ctx, Collector& out) {
  const RunRecord& r = ctx.record;
  if (!r.custom_loop || r.steps.empty()) return;
  const auto& o = ctx.options.loop_outputs;
  const double n = static_cast<double>(r.steps.size());
  const double checked = r.loop.output_checks > 0 ? static_cast<double>(r.loop.output_checks) : n;
  if (r.loop.probability_output_steps / checked > o.probability_fraction) {
    out.evidence("loss_output_mismatch")
        .add(o.probability_weight,
             fmt::format("the model's outputs were already probabilities (rows ≥ 0 summing to 1) "
                         "at {} of {} steps checked, but the {} loss takes logits: softmax is "
                         "applied twice",
                         r.loop.probability_output_steps, static_cast<int64_t>(checked), r.loss));
  }
  if (r.loop.labels_out_of_range_steps / n > o.probability_fraction) {
    out.evidence("loss_output_mismatch")
        .add(o.labels_out_of_range_weight,
             fmt::format("targets outside [0, {}) at {} of {} steps (largest target {}): the "
                         "labels and the number of classes disagree",
                         r.num_classes, r.loop.labels_out_of_range_steps, r.steps.size(),
                         r.loop.largest_label));
  }
}

}  // namespace lossdoctor::diagnose
