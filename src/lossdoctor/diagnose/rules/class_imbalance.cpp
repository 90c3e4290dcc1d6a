// class_imbalance: a few classes dominate the training batches.
//
// Evidence: over all batches, the most frequent class appears more than
// `class_imbalance.class_ratio` times as often as the rarest (weight `weight_per_ratio` × the
// ratio, at most `max_weight`), judged once `labels_per_class` × K labels were counted and only
// when no batch_label_runs symptom explains the lopsided batches (that is unshuffled_data).
// Penalties: none.
#include <fmt/format.h>

#include <algorithm>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_class_imbalance(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.class_imbalance;
  const RecordSignals& sig = ctx.signals;
  if (sig.max_class_ratio > o.class_ratio && !ctx.has("batch_label_runs") &&
      sig.labels_counted >= o.labels_per_class * ctx.record.num_classes) {
    out.evidence("class_imbalance")
        .add(std::min(o.max_weight, o.weight_per_ratio * sig.max_class_ratio),
             fmt::format("the most frequent class appears {:.1f}× as often as the rarest",
                         sig.max_class_ratio));
  }
}

}  // namespace lossdoctor::diagnose
