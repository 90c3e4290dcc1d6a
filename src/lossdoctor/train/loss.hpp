#pragma once
// The spec's loss functions, per sample and averaged.
//
// Contract:
//   requires: output [N, K] (the network's last layer), labels int64 [N] in [0, K).
//   ensures:  cross_entropy: from_logits → log_softmax(output); else output is taken as
//             probabilities (clamped to [1e-7, 1]) → log. With label smoothing ε the target is
//             (1-ε)·onehot + ε/K (PyTorch's definition); one_hot targets give the same value.
//             nll: −output[label] (output taken as log-probabilities, as PyTorch's NLLLoss).
//             mse: mean over K of (output − onehot)².
//             bce: mean over K of binary cross-entropy against onehot, from logits or
//             probabilities (clamped to [1e-7, 1−1e-7]).

#include <torch/types.h>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::train {

/// Loss of every sample: [N].
torch::Tensor per_sample_loss(const spec::LossSpec& loss, const torch::Tensor& output,
                              const torch::Tensor& labels);

/// Mean of per_sample_loss.
torch::Tensor mean_loss(const spec::LossSpec& loss, const torch::Tensor& output,
                        const torch::Tensor& labels);

/// Spec spelling of the kind: "cross_entropy", "nll", "mse", "bce".
std::string loss_kind_name(spec::LossSpec::Kind kind);

/// Spec spelling with settings, e.g. "cross_entropy(from_logits)".
std::string loss_name(const spec::LossSpec& loss);

}  // namespace lossdoctor::train
