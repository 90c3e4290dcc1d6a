#include "lossdoctor/report/causes.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace lossdoctor::report {

const std::vector<CauseInfo>& cause_table() {
  static const std::vector<CauseInfo> table = {
      {"label_noise",
       CauseGroup::Data,
       "A share of the training labels is wrong, so the model is pushed towards "
       "contradictory targets and the training loss cannot fall below the noise floor. "
       "Validation (with clean labels) then looks better than training.",
       {},
       Intervention::DropFlagged,
       "drop the training samples whose labels look wrong (flagged by the run or the "
       "audit)",
       "drop or relabel the mislabelled samples: `lossdoctor audit --out DIR`, then "
       "--set data.train.exclude=DIR/exclude.txt",
       {},
       {"duplicates", "label_issues", "label_agreement"}},
      {"corrupt_samples",
       CauseGroup::Data,
       "Some training images are broken (NaN, constant or pure noise) and carry no "
       "signal or poison the arithmetic. Every batch that holds one adds loss the "
       "model cannot remove, or turns the loss into NaN.",
       {},
       Intervention::DropFlagged,
       "drop the flagged corrupt images",
       "drop the corrupt images: `lossdoctor audit --out DIR`, then --set "
       "data.train.exclude=DIR/exclude.txt",
       {},
       {"integrity", "outliers", "noise_share"}},
      {"preprocessing_mismatch",
       CauseGroup::Data,
       "Validation images are prepared differently from training images, so the model "
       "sees inputs at validation time whose scale it never learned. Validation loss "
       "rises or stays high while the training loss is fine.",
       {},
       Intervention::ApplyFix,
       "prepare validation like training (lint's or the audit's fix)",
       "give data.transforms.val the same scaling and normalisation as "
       "data.transforms.train",
       {"val-transforms-mismatch"},
       {"preparation"}},
      {"unnormalized_input",
       CauseGroup::Data,
       "The inputs reach the network at the wrong scale (raw 0-255 pixels, or scaled "
       "twice), so the first layer's outputs and gradients are hundreds of times too "
       "large or too small. The optimiser then overshoots or barely moves.",
       {{"data.transforms.train", "[{scale: 0.00392156862745098}]"}},
       Intervention::ApplyFix,
       "scale the inputs to [0, 1] (or normalise them)",
       "scale pixels to [0, 1] and normalise with the data's mean and std",
       {"unnormalized-input", "double-scaling"},
       {}},
      {"unshuffled_data",
       CauseGroup::Data,
       "The batches arrive in class order, so each stretch of training sees one class "
       "and the model forgets the others. The loss jumps at every class boundary "
       "instead of falling.",
       {{"data.shuffle", "true"}},
       Intervention::ApplyFix,
       "shuffle the training data every epoch",
       "shuffle the training data every epoch",
       {"unshuffled-data"},
       {"ordering"}},
      {"class_imbalance",
       CauseGroup::Data,
       "A few classes dominate the training data, so predicting them is a cheap way to "
       "lower the loss. The rare classes are never learned and the loss stalls at the "
       "majority-class level.",
       {},
       Intervention::Oversample,
       "oversample the rare classes",
       "rebalance the classes (oversampling or class weights)",
       {},
       {"balance"}},
      {"bad_init_scale",
       CauseGroup::Network,
       "The initial weights are far too large or too small (or all equal), so "
       "activations and gradients explode or vanish through the layers before training "
       "even starts. The loss starts far from ln K or cannot move.",
       {{"model.init", "{weight: he_normal, bias: zeros}"}},
       Intervention::ApplyFix,
       "He-normal weights, zero biases",
       "initialise with He (ReLU) or Glorot (tanh/sigmoid) scaling and zero biases",
       {"symmetric-init", "init-scale", "negative-bias-relu"},
       {}},
      {"missing_normalization",
       CauseGroup::Network,
       "A deep ReLU stack without batch normalisation lets activation scales drift "
       "layer by layer, so early layers get vanishing gradients and many units die. "
       "The loss stalls near chance.",
       {{"model.init", "{weight: he_normal, bias: zeros}"}},
       Intervention::ApplyFix,
       "insert batch norm after each convolution (lint's fix), else He init",
       "insert batchnorm after each convolution of the deep ReLU stack",
       {"deep-relu-without-batchnorm"},
       {}},
      {"saturating_activation",
       CauseGroup::Network,
       "Deep sigmoid/tanh layers saturate, where their derivative is almost zero, so "
       "the gradient fades before it reaches the early layers. The loss barely moves.",
       {{"model.init", "{weight: glorot_normal, bias: zeros}"}},
       Intervention::ApplyFix,
       "Glorot-normal weights (lint's fix: ReLU activations)",
       "use ReLU activations (or batch norm and Glorot init) in deep stacks",
       {"deep-saturating-stack"},
       {}},
      {"insufficient_capacity",
       CauseGroup::Network,
       "A bottleneck (too few units, or pooling down to almost nothing) throws away "
       "the information the classifier needs. The loss levels off high no matter how "
       "long it trains.",
       {},
       Intervention::ApplyFix,
       "widen the bottleneck or pool less (lint's fix)",
       "widen the bottleneck layer or pool less",
       {"dense-bottleneck", "spatial-collapse", "narrow-convolution"},
       {}},
      {"loss_output_mismatch",
       CauseGroup::Network,
       "The loss does not fit the output layer (e.g. softmax scores fed to a loss that "
       "applies softmax again), which squashes the gradients and bounds how low the "
       "loss can go. Training is slow and stalls well above zero.",
       {},
       Intervention::ApplyFix,
       "make the loss fit the output layer (lint's fix)",
       "feed raw logits to a from-logits loss (or log-probabilities to nll)",
       {"softmax-into-logits-loss", "probability-loss-on-scores", "nll-without-log-softmax",
        "regression-loss-on-classes", "activation-on-logits"},
       {}},
      {"lr_too_high",
       CauseGroup::Optimisation,
       "Each step overshoots the minimum, so the loss oscillates, spikes or climbs, "
       "and large updates kill ReLU units or overflow to NaN. Lowering the learning "
       "rate lets the steps settle into the valley.",
       {{"optimizer.lr", "{lr/10}"}},
       Intervention::ApplyFix,
       "the learning rate ÷ 10 (or the optimiser's usual rate)",
       "lower the learning rate (÷ 10, or run `lossdoctor lr-find`)",
       {"lr-too-high"},
       {}},
      {"lr_too_low",
       CauseGroup::Optimisation,
       "The steps are so small that the weights barely move: gradients are healthy but "
       "each update changes the weights by a tiny fraction. The loss falls far too "
       "slowly and looks stalled.",
       {{"optimizer.lr", "{lr*10}"}},
       Intervention::ApplyFix,
       "the learning rate × 10 (or the optimiser's usual rate)",
       "raise the learning rate (× 10, or run `lossdoctor lr-find`)",
       {"lr-too-low"},
       {}},
      {"batch_too_small",
       CauseGroup::Optimisation,
       "With tiny batches each gradient is dominated by the few samples in it (and "
       "batch norm's statistics are meaningless), so steps point in random directions. "
       "The loss is noisy and does not settle.",
       {{"batch_size", "32"}},
       Intervention::ApplyFix,
       "batches of 32, judged at equal samples seen",
       "use batches of 32 or more",
       {"batch-size-one", "small-batch-batchnorm"},
       {}},
      {"optimizer_misconfigured",
       CauseGroup::Optimisation,
       "The optimiser's own settings (momentum, betas, eps, or a rate that does not "
       "suit this optimiser) keep it from making progress. The loss oscillates or "
       "stalls although the model and data are fine.",
       {},
       Intervention::ApplyFix,
       "the optimiser's usual settings (lint's fix)",
       "use the optimiser's usual momentum/betas/eps, or a rate that suits it",
       {"optimizer-hyperparameters"},
       {}},
      {"bad_lr_schedule",
       CauseGroup::Optimisation,
       "The schedule drives the learning rate somewhere useless: growing without "
       "bound, or decaying to almost nothing within the run. The loss diverges late or "
       "freezes early.",
       {{"schedule.type", "constant"}},
       Intervention::ApplyFix,
       "a constant learning rate",
       "use a schedule that keeps the rate useful over the run (constant, cosine, "
       "gentle steps)",
       {"schedule-gamma-above-one", "schedule-decays-to-nothing"},
       {}},
      {"excessive_regularization",
       CauseGroup::Optimisation,
       "Weight decay or dropout is so strong that it fights the data term of the loss: "
       "the weights shrink or the signal is drowned in noise. The training loss stays "
       "high.",
       {{"optimizer.weight_decay", "0"}},
       Intervention::ApplyFix,
       "no weight decay (or lint's lighter dropout)",
       "lower weight decay (1e-4 is usual) and dropout (≤ 0.5)",
       {"heavy-weight-decay", "heavy-dropout"},
       {}},
      {"grad_clip_too_tight",
       CauseGroup::Optimisation,
       "Gradient clipping at a tiny norm shrinks every update to almost nothing, "
       "whatever the learning rate. The loss falls far too slowly.",
       {{"clip_grad_norm", "null"}},
       Intervention::ApplyFix,
       "no gradient clipping",
       "clip at a norm near the typical gradient norm (≥ 1), or not at all",
       {"clip-too-tight"},
       {}},
      {"gradients_not_reset",
       CauseGroup::TrainingLoop,
       "Gradients are never zeroed, so every step adds the new gradient to all "
       "previous ones and the update keeps growing in a stale direction. The loss "
       "first falls, then oscillates or diverges.",
       {},
       Intervention::None,
       "",
       "call optimizer.zero_grad() before every backward pass",
       {},
       {}},
      {"params_not_updated",
       CauseGroup::TrainingLoop,
       "The optimiser is not changing the model's weights (it was given other "
       "parameters, or its steps never reach the model), although gradients are "
       "computed. The loss stays where it started.",
       {},
       Intervention::None,
       "",
       "give the optimiser the model's own parameters (not copies) and call step() "
       "every iteration",
       {},
       {}},
      {"loss_sign_flipped",
       CauseGroup::TrainingLoop,
       "The loss being minimised is the negative of the real loss, so the optimiser "
       "makes predictions worse on purpose. The reported loss falls without bound "
       "while accuracy drops.",
       {},
       Intervention::None,
       "",
       "minimise the loss itself, not its negative",
       {},
       {}},
      {"model_in_eval_mode",
       CauseGroup::TrainingLoop,
       "The model is trained in eval mode, so batch norm normalises with its running "
       "statistics instead of the batch's and dropout is off. Training drifts from the "
       "statistics it normalises with, and the loss stalls or rises.",
       {},
       Intervention::None,
       "",
       "call model.train() before the training loop and again after every validation pass "
       "(model.eval() is for evaluation only)",
       {},
       {}},
      // Data-parallel runs (RunRecord::distributed, docs/distributed.md). Their default fixes
      // undo the spec's injected fault: lossdoctor's own trainer has none of them otherwise.
      {"same_data_on_every_rank",
       CauseGroup::Data,
       "Every rank reads the whole training set in the same order instead of its own shard, so "
       "the ranks compute the same gradient and N processes do the work of one. The loss of "
       "every rank moves in lock-step and the run learns no faster than a single process.",
       {{"data.inject.distributed.same_data_on_every_rank", "false"}},
       Intervention::ApplyFix,
       "give each rank its own shard",
       "give each rank its own shard (a distributed sampler: one shared permutation per epoch, "
       "rank r takes every N-th sample from position r)",
       {},
       {}},
      {"shard_not_reshuffled",
       CauseGroup::Data,
       "Every epoch shows each rank its shard in exactly the same order, so the batches repeat "
       "epoch after epoch and the model can fit their order. The loss curve repeats its "
       "pattern each epoch and generalises worse than with a fresh shuffle.",
       {{"data.inject.distributed.no_reshuffle", "false"}},
       Intervention::ApplyFix,
       "reshuffle the shards every epoch",
       "reshuffle every epoch (PyTorch: call sampler.set_epoch(epoch) before each epoch)",
       {},
       {}},
      {"rank_specific_data_fault",
       CauseGroup::Data,
       "One rank's data is broken (wrong labels or corrupt images on that rank only), and its "
       "gradient is averaged into every update. Its loss stays well above the other ranks' "
       "and drags the whole run's loss up.",
       {{"data.inject.distributed.corrupt_rank", "-1"}},
       Intervention::ApplyFix,
       "rerun without the faulty rank's corruption",
       "check the data that rank reads (its shard, its files, its decoder); run `lossdoctor "
       "audit` on that shard",
       {},
       {}},
      {"lr_not_scaled_for_global_batch",
       CauseGroup::Optimisation,
       "With N ranks every step averages N times as many images, so the step size that suited "
       "one process is N times too timid per sample seen. Scaled up at once without warmup, the "
       "larger rate can instead blow the first steps up.",
       // The rerun tests the cause alone: scale the rate. A warmup on top starts the rerun
       // slower than the baseline and refuted it at step 50 on bench/zoo ddp-lr-not-scaled
       // (a scaled rate without warmup has its own fix: the rule adds the warmup only).
       {{"optimizer.lr_scaling", "linear"}},
       Intervention::ApplyFix,
       "scale the rate with the global batch (linear)",
       "scale the learning rate with the global batch (optimizer.lr_scaling: linear, or sqrt "
       "for Adam) and warm it up (schedule.warmup_steps)",
       {"lr-scaled-without-warmup"},
       {}},
      {"replicas_diverged",
       CauseGroup::TrainingLoop,
       "The ranks' copies of the model no longer hold the same parameters (a rank skipped or "
       "changed an update, or they did not start from the same weights). Each rank then "
       "computes gradients for a different model and the averaged update fits none of them.",
       {},
       Intervention::None,
       "",
       "start every rank from rank 0's parameters (broadcast) and apply the same averaged "
       "update on every rank at every step; never skip or alter a step on one rank",
       {},
       {}},
      {"healthy",
       CauseGroup::NoFault,
       "The loss falls steadily and nothing seen points at a fault. Nothing needs "
       "fixing.",
       {},
       Intervention::None,
       "",
       "nothing to fix",
       {},
       {}}};
  return table;
}

const CauseInfo& cause_info(const std::string& id) {
  for (const auto& c : cause_table())
    if (c.id == id) return c;
  throw std::out_of_range("unknown cause id '" + id + "'");
}

bool is_known_cause(const std::string& id) {
  for (const auto& c : cause_table())
    if (c.id == id) return true;
  return false;
}

std::string group_name(CauseGroup g) {
  switch (g) {
    case CauseGroup::Data:
      return "data";
    case CauseGroup::Network:
      return "network";
    case CauseGroup::Optimisation:
      return "optimisation";
    case CauseGroup::TrainingLoop:
      return "training loop";
    case CauseGroup::NoFault:
      return "no fault";
  }
  return "";
}

std::map<std::string, std::string> default_fix(const std::string& id, double base_lr) {
  std::map<std::string, std::string> out = cause_info(id).default_fix;
  for (auto& [key, value] : out) {
    if (value == "{lr/10}") value = fmt::format("{:.3g}", base_lr / 10);
    if (value == "{lr*10}") value = fmt::format("{:.3g}", base_lr * 10);
  }
  return out;
}

}  // namespace lossdoctor::report
