#pragma once
// Every lint rule's check, one function each (see docs/lint.md for one section per rule).
// Registered with its id and cause in lint.cpp.

#include "lossdoctor/lint/lint.hpp"

namespace lossdoctor::lint::rules {

using Check = void(const spec::Spec&, const LintContext&, LintResult&);

// Loss and output head (loss_rules.cpp).
Check softmax_into_logits_loss;    ///< softmax-into-logits-loss
Check probability_loss_on_scores;  ///< probability-loss-on-scores
Check nll_without_log_softmax;     ///< nll-without-log-softmax
Check regression_loss_on_classes;  ///< regression-loss-on-classes
Check activation_on_logits;        ///< activation-on-logits

// Optimiser, schedule, batch (optimizer_rules.cpp).
Check lr_too_high;                 ///< lr-too-high
Check lr_too_low;                  ///< lr-too-low
Check batch_size_one;              ///< batch-size-one
Check small_batch_batchnorm;        ///< small-batch-batchnorm
Check optimizer_hyperparameters;   ///< optimizer-hyperparameters
Check heavy_weight_decay;          ///< heavy-weight-decay
Check clip_too_tight;              ///< clip-too-tight
Check schedule_gamma_above_one;    ///< schedule-gamma-above-one
Check schedule_decays_to_nothing;  ///< schedule-decays-to-nothing

// Data-parallel runs (distributed_rules.cpp; need LintContext::world_size).
Check lr_scaled_without_warmup;  ///< lr-scaled-without-warmup

// Data (data_rules.cpp).
Check unnormalized_input;       ///< unnormalized-input
Check double_scaling;           ///< double-scaling
Check val_transforms_mismatch;  ///< val-transforms-mismatch
Check unshuffled_data;          ///< unshuffled-data

// Network (network_rules.cpp).
Check deep_relu_without_batchnorm;  ///< deep-relu-without-batchnorm
Check deep_saturating_stack;        ///< deep-saturating-stack
Check heavy_dropout;                ///< heavy-dropout
Check symmetric_init;               ///< symmetric-init
Check init_scale;                   ///< init-scale
Check negative_bias_relu;           ///< negative-bias-relu
Check dense_bottleneck;             ///< dense-bottleneck
Check spatial_collapse;             ///< spatial-collapse
Check narrow_convolution;           ///< narrow-convolution

}  // namespace lossdoctor::lint::rules
