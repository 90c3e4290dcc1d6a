// label_noise: wrong labels in the training data.
//
// Evidence: the model generalises — validation accuracy (clean labels) beats the late training
// batch accuracy by more than `label_noise.accuracy_gap` — and it confidently contradicts more
// than `high_loss_fraction` of the seen training samples (loss above ln K + 0.7). Weight
// `base` + `per_gap` × gap + `per_high_loss` × (share − high_loss_fraction), at most
// `max_weight` — provided more than `contradicted_fraction` of the seen samples had a mean margin
// below −2 (contradicted throughout the run). Augmentation and dropout also depress training
// accuracy and raise the high-loss share, but leave few samples contradicted throughout.
// A gap above `heavy_gap` is evidence on its own once validation accuracy is a fifth of the way
// from chance to perfect (heavy noise leaves a weak model unconfident), unless the training
// split is randomly augmented. With dropout, training accuracy is the eval-mode accuracy of the
// probe steps' batches (dropout off; StepSample::eval_batch_accuracy) when the record has it:
// dropout 0.3 alone depressed training-mode accuracy 17 points below validation's on a clean run.
// Penalty: `no_agreement_gap_penalty` when the label agreement across the splits had power
// (learned z ≥ `agreement_min_learned_z`) and found no gap (gap z ≤ `agreement_max_gap_z`): models
// fitted to the validation labels agree with the training labels as well as with unseen
// validation ones, so the training labels are as clean as validation's; what depresses training
// accuracy is something else (dropout, a narrow network).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_label_noise(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.label_noise;
  const RecordSignals& sig = ctx.signals;
  if (!sig.val_accuracy || !std::isfinite(*sig.val_accuracy)) return;
  const bool eval_mode = std::isfinite(sig.late_eval_train_accuracy);
  const double train_accuracy = eval_mode ? sig.late_eval_train_accuracy : sig.late_train_accuracy;
  const double gap = *sig.val_accuracy - train_accuracy;
  const double chance =
      ctx.record.num_classes > 1 ? 1.0 / static_cast<double>(ctx.record.num_classes) : 0.0;
  // Not with random augmentation on the training split: it alone opens gaps of 18 points
  // (bench/zoo ok-heavy-augmentation).
  const bool heavy = gap > o.heavy_gap && *sig.val_accuracy >= chance + 0.2 * (1.0 - chance) &&
                     !ctx.record.train_augmentation;
  if (!heavy) {
    if (!(gap > o.accuracy_gap && sig.high_loss_fraction > o.high_loss_fraction)) return;
    // Contradicted throughout, not merely hard: what augmentation and dropout do not produce.
    if (!(sig.contradicted_fraction > o.contradicted_fraction)) return;
  }
  Candidate& c = out.evidence("label_noise");
  c.add(std::min(o.max_weight, o.base + o.per_gap * gap +
                                   o.per_high_loss * std::max(0.0, sig.high_loss_fraction -
                                                                       o.high_loss_fraction)),
        fmt::format("validation accuracy {:.1f}% beats training accuracy {:.1f}%{}: the training "
                    "labels disagree with what the model learns",
                    100 * *sig.val_accuracy, 100 * train_accuracy,
                    eval_mode ? " (eval mode, dropout off)" : ""));
  c.note(o.high_loss_note,
         fmt::format("{:.1f}% of training samples have a loss above ln K + 0.7 (the model "
                     "confidently prefers another class; clean data: about 5%)",
                     100 * sig.high_loss_fraction));
  const auto& agreement = ctx.record.label_agreement;
  if (agreement && agreement->learned >= o.agreement_min_learned_z &&
      agreement->gap <= o.agreement_max_gap_z) {
    out.penalise("label_noise", o.no_agreement_gap_penalty,
                 fmt::format("the label agreement across the splits finds the training labels "
                             "as consistent as validation's (gap z {:.1f}; models that learned "
                             "the validation labels, learned z {:.1f})",
                             agreement->gap, agreement->learned));
  }
}

}  // namespace lossdoctor::diagnose
