#pragma once
// Typed experiment spec. Pure data: no torch, no yaml-cpp in this header, so every stage can
// include it cheaply. Parsing and validation live in spec_parser.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lossdoctor::spec {

/// Where a value came from: a file position (1-based) or a `--set` override.
struct Location {
  std::string file;      ///< spec file path as given by the user
  int line = 0;          ///< 1-based; 0 when unknown
  int column = 0;        ///< 1-based; 0 when unknown
  std::string override;  ///< the `--set key=value` text when the value came from the command line

  /// "file:line:col" or "--set key=value"
  std::string str() const;
};

/// One weight or bias initialisation scheme.
struct InitScheme {
  enum class Kind {
    Default,
    HeNormal,
    HeUniform,
    GlorotNormal,
    GlorotUniform,
    Normal,
    Uniform,
    Zeros,
    Constant
  };
  Kind kind = Kind::Default;
  double std = 0.01;   ///< Normal
  double a = 0.05;     ///< Uniform: U(-a, a)
  double value = 0.0;  ///< Constant
};

/// `init: {weight: ..., bias: ..., std: ..., a: ..., value: ...}` at model or layer level.
/// Unset members inherit from the enclosing level (layer → model → libtorch default).
struct InitSpec {
  std::optional<InitScheme> weight;
  std::optional<InitScheme> bias;
};

struct LayerSpec {
  enum class Kind {
    Conv2d,
    BatchNorm,
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    SELU,
    ELU,
    GELU,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Dropout,
    Flatten,
    Dense,
    Softmax,
    LogSoftmax,
    Repeat,
    Residual
  };
  Kind kind = Kind::ReLU;
  std::string key_path;  ///< e.g. "model.layers[3].conv2d", used in messages
  Location where;        ///< position of the layer's mapping in the spec

  // conv2d
  int64_t filters = 0;
  int64_t kernel = 3;
  int64_t stride = 1;
  bool same_padding = false;  ///< padding: same
  int64_t padding = 0;        ///< padding: <int> (ignored when same_padding)
  bool bias = true;           ///< conv2d, dense
  // dense
  int64_t units = 0;
  // maxpool / avgpool
  int64_t size = 2;
  int64_t pool_stride = 0;  ///< 0 means "= size"
  // dropout
  double rate = 0.5;
  // leaky_relu: negative_slope; elu: alpha
  double negative_slope = 0.01;
  double alpha = 1.0;
  // batchnorm
  double momentum = 0.1;
  double eps = 1e-5;
  // repeat / residual
  int64_t times = 1;
  std::vector<LayerSpec> layers;

  InitSpec init;  ///< conv2d and dense only
};

/// Canonical spelling of a layer kind as written in specs ("conv2d", "batchnorm", ...).
std::string layer_kind_name(LayerSpec::Kind kind);

struct TransformSpec {
  enum class Kind { Scale, Normalize, Resize, RandomCrop, RandomFlip };
  Kind kind = Kind::Scale;
  Location where;
  double factor = 1.0;            ///< scale
  std::vector<double> mean, std;  ///< normalize (one entry, or one per channel)
  int64_t height = 0, width = 0;  ///< resize
  int64_t size = 0, padding = 0;  ///< random_crop (square crop of `size` after zero padding)
  bool horizontal = true;         ///< random_flip (only horizontal is supported)

  /// Random augmentations are dropped from validation when the user gave no val transforms.
  bool is_augmentation() const { return kind == Kind::RandomCrop || kind == Kind::RandomFlip; }
};

struct SplitSpec {
  std::string images;              ///< idx: images file, relative to data.path
  std::string labels;              ///< idx: labels file
  std::vector<std::string> files;  ///< cifar10: batch files
  std::string path;  ///< folder: root with one sub-folder per class (relative or absolute)
  std::optional<int64_t> limit;  ///< stratified subset size
  std::string exclude;           ///< file of sample indices to drop (one per line); optional
  bool present = false;          ///< the split was written in the spec
};

/// Faults only a data-parallel run can have (data.inject.distributed; docs/distributed.md).
/// A rank field of -1 means "no rank". A single-process run ignores them.
struct DistributedInjectSpec {
  bool same_data_on_every_rank = false;  ///< no sharding: every rank reads the whole set
  bool no_reshuffle = false;             ///< every epoch reuses epoch 0's order
  int64_t skip_update_on_rank = -1;      ///< this rank skips its optimiser step once ...
  int64_t skip_update_step = 5;          ///< ... at this step (the replicas diverge)
  int64_t corrupt_rank = -1;             ///< this rank's batches carry wrong labels/noise:
  double corrupt_rank_labels = 0.5;      ///< share of its samples with a wrong label
  double corrupt_rank_images = 0.0;      ///< share of its samples replaced by noise
  int64_t slow_rank = -1;                ///< this rank sleeps before every allreduce ...
  int64_t slow_rank_ms = 50;             ///< ... this long (a straggler)
  bool any() const {
    return same_data_on_every_rank || no_reshuffle || skip_update_on_rank >= 0 ||
           corrupt_rank >= 0 || slow_rank >= 0;
  }
};

struct InjectSpec {
  double label_noise = 0.0;  ///< fraction of training labels replaced by a different random class
  double corrupt = 0.0;      ///< fraction of training images corrupted
  enum class CorruptKind { Zeros, Noise, NaN, Saturate };
  CorruptKind corrupt_kind = CorruptKind::Noise;
  bool sort_by_label = false;         ///< training set in class order (as a folder is read)
  std::vector<int64_t> drop_classes;  ///< classes thinned out of the training set (imbalance)
  std::vector<Location> drop_classes_where;  ///< where each of drop_classes is written
  double drop_fraction = 0.0;                ///< share of each listed class's samples removed
  DistributedInjectSpec distributed;         ///< data-parallel faults (data.inject.distributed)
  bool any() const {
    return label_noise > 0 || corrupt > 0 || sort_by_label || drop_fraction > 0 ||
           distributed.any();
  }
};

struct DataSpec {
  enum class Format { Idx, Cifar10, Folder };
  Format format = Format::Idx;
  std::string
      path;  ///< directory the split files are relative to (after resolving against the spec's dir)
  SplitSpec train, val;
  double split = 0.0;  ///< folder: fraction of train carved out as validation when val is absent
  bool shuffle = true;
  std::optional<int64_t> num_classes;  ///< default: inferred (10 for idx/cifar10)
  std::optional<int64_t> channels;     ///< folder: 1 or 3; default from the first image
  std::optional<std::pair<int64_t, int64_t>> image_size;  ///< folder: resize every image on load
  bool skip_bad_images =
      false;  ///< folder: drop undecodable images (with a warning) instead of failing
  std::vector<TransformSpec> train_transforms;
  std::vector<TransformSpec> val_transforms;
  bool val_transforms_given = false;  ///< false: val = train minus augmentations
  InjectSpec inject;
};

struct LossSpec {
  enum class Kind { CrossEntropy, Nll, Mse, Bce };
  Kind kind = Kind::CrossEntropy;
  bool from_logits = true;  ///< cross_entropy, bce: the model output is raw scores
  double label_smoothing = 0.0;
  bool one_hot_targets = false;  ///< targets: one_hot (cross_entropy computes -sum(t * log p))
};

struct OptimizerSpec {
  enum class Kind { Sgd, Adam, AdamW, RmsProp, Adagrad, Adadelta };
  Kind kind = Kind::Adam;
  double lr = 1e-3;
  double momentum = 0.0;  ///< sgd, rmsprop
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double alpha = 0.99;  ///< rmsprop smoothing
  double rho = 0.9;     ///< adadelta
  /// Data-parallel runs of N ranks: the rate used is lr × 1 (none), × N (linear) or × √N (sqrt),
  /// for a global batch N × batch_size. One process: always lr.
  enum class LrScaling { None, Linear, Sqrt };
  LrScaling lr_scaling = LrScaling::None;
};

/// Spelling of optimizer.lr_scaling in specs: none | linear | sqrt.
std::string lr_scaling_name(OptimizerSpec::LrScaling scaling);

struct ScheduleSpec {
  enum class Kind { Constant, Step, Exponential, Cosine, Plateau };
  Kind kind = Kind::Constant;
  int64_t step_size = 1;
  double gamma = 0.1;
  bool per_step = false;  ///< per: step (default per: epoch)
  double factor = 0.1;    ///< plateau
  int64_t patience = 2;   ///< plateau, in epochs
  double min_lr = 0.0;    ///< cosine floor
  int64_t warmup_steps = 0;
};

struct DiagnoseSpec {
  int64_t budget_steps = 400;
  int64_t probe_every = 10;
  bool confirm = true;
};

struct Spec {
  std::string name;
  std::string file;  ///< path of the spec file
  uint64_t seed = 0;
  std::string device = "auto";  ///< auto | cpu | cuda
  DataSpec data;
  InitSpec init;  ///< model-level init
  std::vector<LayerSpec> layers;
  /// model.sync_batchnorm: in a data-parallel run (world size > 1), batchnorm layers in training
  /// mode normalise over the global batch (docs/distributed.md); no effect in one process.
  bool sync_batchnorm = false;
  LossSpec loss;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  std::optional<double> clip_grad_norm;
  int64_t batch_size = 64;
  int64_t epochs = 1;
  std::optional<int64_t> max_steps;  ///< when set, training stops after this many optimiser steps
  DiagnoseSpec diagnose;

  std::string resolved_yaml;  ///< the spec after overrides, as YAML, for the run directory
};

}  // namespace lossdoctor::spec
