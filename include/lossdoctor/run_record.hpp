#pragma once
// RunRecord: everything the probes observed during one training run, as plain numbers.
// It is the seam between training and diagnosis: detectors and the diagnoser are pure functions
// of it, so they are tested on synthetic records without training anything. No torch here.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace lossdoctor {

/// Summary statistics of a tensor (a batch of inputs, a layer's activations).
struct TensorStats {
  double mean = 0, std = 0, min = 0, max = 0;
  double nonfinite_fraction = 0;  ///< NaN or Inf values / all values
};

/// Recorded at every optimiser step.
struct StepSample {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;  ///< mean batch loss (may be NaN/Inf)
  double lr = 0;
  double grad_norm = 0;  ///< global L2 norm of all gradients before clipping
  double update_norm =
      0;  ///< global L2 norm of the parameter change made by this step (NaN: not measured)
  double weight_norm = 0;  ///< global L2 norm of all parameters after the step (NaN: not measured)
  double batch_accuracy = 0;  ///< fraction of the batch predicted correctly (training mode)
  /// The same batch, same weights, predicted in eval mode (dropout off): measured on probe steps
  /// of a network with dropout, whose training-mode accuracy dropout depresses; NaN elsewhere.
  double eval_batch_accuracy = std::numeric_limits<double>::quiet_NaN();
  std::vector<int64_t> label_histogram;  ///< count per class in this batch
  TensorStats input;                     ///< statistics of the batch as fed to the model
  /// |g_t − g_{t−1}| / |g_t|: near 0 when gradients accumulate (zero_grad never called),
  /// O(1) for fresh minibatch gradients. NaN at the first step.
  double grad_change_ratio = 0;
  /// Cross-entropy recomputed by the probe from the outputs (Monitor only; NaN when the loss
  /// is computed by lossdoctor itself). Compared with `loss` to catch a negated loss.
  double reference_loss = 0;
  /// Fraction of the batch's images that look corrupt: non-finite values, constant images, or
  /// noise-like high-frequency content (mean |horizontal difference| > 0.8 × the image's std).
  double odd_input_fraction = 0;  ///< measured on probe steps; NaN elsewhere
};

/// Per-layer figures, recorded every `probe_every` steps.
struct LayerSample {
  TensorStats activation;         ///< the layer's forward output
  double dead_fraction = 0;       ///< ReLU family: units (channels/features) zero for every sample
  double saturated_fraction = 0;  ///< sigmoid/tanh/softmax: outputs within 1% of their bounds
  double grad_norm = 0;           ///< L2 norm of the weight gradient (0 for weightless layers)
  double weight_norm = 0;         ///< L2 norm of the weight
  double update_ratio = 0;        ///< |Δw| / |w| of the step after this probe
  bool has_weights = false;
};

struct LayerProbe {
  int64_t step = 0;
  std::vector<LayerSample> layers;  ///< indexed like RunRecord::layers
};

/// Static description of a layer of the network.
struct LayerDescription {
  std::string name;  ///< e.g. "layers[4].conv2d"
  std::string kind;  ///< spec spelling: conv2d, dense, relu, batchnorm, softmax, ...
  std::vector<int64_t> output_shape;
  int64_t fan_in = 0;  ///< conv2d/dense: inputs per output unit
  bool has_weights = false;
};

struct EpochSample {
  int64_t epoch = 0;
  int64_t step = 0;
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
};

/// The first place a non-finite value appeared.
struct NonFiniteOrigin {
  int64_t step = 0;
  std::string layer;         ///< layer name, or "input" / "loss"
  bool in_backward = false;  ///< gradient rather than forward output
};

/// Per-channel statistics of a split after its preprocessing (the whole split, not one batch).
struct SplitStats {
  std::vector<double> channel_mean, channel_std;
  double min = 0, max = 0;
  int64_t samples = 0;
};

/// Noise-like images (data::odd_image_kinds) in each split, class-balanced over the classes both
/// splits hold (audit::measure_noise_share): how far the training split has more of them than
/// validation bounds how many of them can be corruption.
struct NoiseLikeShares {
  double train = 0, val = 0;
  double standard_error = 0;  ///< of train − val
};

/// The label agreement across the splits (audit/label_agreement.hpp): small models fitted to the
/// validation labels, scored on unseen validation images and on the training images.
struct LabelAgreementZ {
  double gap = 0;      ///< (validation − training agreement) over its standard error
  double learned = 0;  ///< validation agreement above chance 1/K, in its standard errors
};

/// Training dynamics of one sample (for mislabel and never-learned detection).
struct SampleDynamics {
  int32_t times_seen = 0;
  float last_loss = 0;
  float mean_margin = 0;            ///< running mean of (score of given label − best other score)
  int32_t first_learned_step = -1;  ///< first step its margin was positive; -1 if never
  /// How the image looked when a probe step checked it (data::odd_image_kinds, whose codes
  /// these are): never checked, clean, broken (non-finite or constant), noise-like.
  static constexpr int8_t kUnchecked = -1, kClean = 0, kBroken = 1, kNoiseLike = 2;
  int8_t look = kUnchecked;
  /// Margin at its first sighting: did the model, trained on other samples only, predict its
  /// label before it had seen it? (Memorising noise comes later.) NaN if never seen.
  float first_margin = std::numeric_limits<float>::quiet_NaN();
};

/// Gradient-noise estimate at a probe step (McCandlish et al.'s simple noise scale).
struct NoiseSample {
  int64_t step = 0;
  double mean_sq_grad_norm =
      0;  ///< mean of |g_B|² over recent probe steps (estimates |G|² + tr Σ / B)
  double sq_mean_grad_norm = 0;  ///< mean of g_B · g_B' of consecutive batches (estimates |G|²)
};

/// What a Monitor saw of the training loop itself (the C++ and Python Monitors; all zero for
/// the spec trainer, whose loop is lossdoctor's own). Counts are over recorded steps.
struct LoopChecks {
  /// Steps taken with the model in eval mode although it has batch norm or dropout layers
  /// (batch statistics frozen, dropout off: model.train() was never called).
  int64_t eval_mode_steps = 0;
  /// Steps before which the gradients were not reset: no zero_grad() call on the optimiser or
  /// the model, and non-zero gradients already at the forward pass (Python Monitor only).
  int64_t grads_not_reset_steps = 0;
  /// Steps whose outputs were already probabilities (every row ≥ 0 and summing to 1) although
  /// the loss takes logits (softmax fed to CrossEntropyLoss).
  int64_t probability_output_steps = 0;
  /// Steps whose outputs were checked (every step, or probe steps only; 0: count every step).
  int64_t output_checks = 0;
  /// Steps with a target outside [0, num_classes), and the largest target seen.
  int64_t labels_out_of_range_steps = 0;
  int64_t largest_label = -1;
  /// Model parameters the optimiser does not hold, and optimiser parameters that are not the
  /// model's (-1: not checked).
  int64_t params_missing_from_optimizer = -1;
  int64_t optimizer_params_not_in_model = -1;
  int64_t model_params = 0;
};

/// One rank's own figures at one step of a data-parallel run, before the gradients are
/// averaged (gathered on rank 0; docs/distributed.md).
struct RankStep {
  double loss = 0;       ///< this rank's batch loss
  double grad_norm = 0;  ///< L2 norm of this rank's own gradient, before the allreduce
  double seconds = 0;    ///< wall time of this rank's data, forward and backward (no waiting)
  /// Hash of the batch's sample positions (0: not known): equal hashes, same samples.
  uint64_t batch_hash = 0;
  std::vector<int64_t> label_histogram;  ///< count per class in this rank's batch
};

struct DistributedStep {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch_index = 0;      ///< position of the batch in its epoch
  std::vector<RankStep> ranks;  ///< indexed by rank
};

/// A parameter checksum per rank after a probe step's update (replicas agree bitwise).
struct ChecksumSample {
  int64_t step = 0;
  std::vector<double> ranks;  ///< indexed by rank
};

/// What rank 0 gathered from every rank of a data-parallel run (absent for one process).
struct DistributedRecord {
  int64_t world_size = 1;
  int64_t global_batch_size = 0;  ///< batch_size per rank × world_size
  int64_t steps_per_epoch = 0;    ///< batches of one rank's shard per epoch
  /// The rate used / the spec's rate (optimizer.lr_scaling: 1 none, N linear, √N sqrt).
  double lr_scale = 1;
  std::string lr_scaling = "none";  ///< none | linear | sqrt
  int64_t warmup_steps = 0;         ///< schedule.warmup_steps
  std::vector<DistributedStep> steps;
  std::vector<ChecksumSample> checksums;
};

struct RunRecord {
  // Setup.
  std::string spec_name;
  /// true when recorded by lossdoctor::Monitor in a user's own loop: only then can the loop
  /// itself be at fault (gradients never reset, optimiser on other parameters, negated loss).
  bool custom_loop = false;
  int64_t num_classes = 0;
  int64_t batch_size = 0;
  int64_t train_size = 0;
  std::string optimizer;  ///< sgd | adam | adamw | rmsprop | adagrad | adadelta | other
  double base_lr = 0;
  std::string loss;  ///< cross_entropy | nll | mse | bce
  bool from_logits = true;
  int64_t probe_every = 10;
  double clip_grad_norm = 0;  ///< 0: no clipping
  /// Random augmentation (crop, flip) on the training split: it lowers training accuracy on
  /// clean labels too. false when unknown (a user's own loop).
  bool train_augmentation = false;
  std::vector<LayerDescription> layers;

  // Series.
  std::vector<StepSample> steps;
  std::vector<LayerProbe> probes;
  std::vector<EpochSample> epochs;
  std::vector<NoiseSample> noise;
  std::optional<NonFiniteOrigin> first_nonfinite;

  LoopChecks loop;

  // Data as prepared for the model.
  std::optional<SplitStats> train_stats, val_stats;
  /// Set by `lossdoctor diagnose` from the whole data set; absent in a Monitor's or a log's record.
  std::optional<NoiseLikeShares> noise_like_shares;
  /// Set by `lossdoctor diagnose` when it measured the label agreement; absent otherwise.
  std::optional<LabelAgreementZ> label_agreement;
  std::vector<SampleDynamics> samples;  ///< indexed by position in the training split

  /// Data-parallel runs: every rank's figures, gathered on rank 0.
  std::optional<DistributedRecord> distributed;
};

}  // namespace lossdoctor
