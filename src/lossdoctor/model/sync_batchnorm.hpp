#pragma once
// Synchronised batch norm (`model.sync_batchnorm: true`, docs/distributed.md): in training mode
// a batch-norm layer of a data-parallel run normalises with the mean and variance of the global
// batch (every rank's images), like PyTorch's SyncBatchNorm.
//
// The model stage knows nothing of process groups: the caller (train/trainer.cpp) hands in a
// function that sums a tensor over the ranks in place (ProcessGroup::allreduce_sum).
//
// Contract:
//   requires: x is [N, C] or [N, C, ...] (C channels, the layer's); weight and bias are defined
//             [C] tensors; running_mean and running_var are [C] (or undefined: not tracked);
//             every rank calls sync_batch_norm for the same layers in the same order (its
//             forward and its backward each make one allreduce), with the same C and dtype.
//   ensures:  forward: one allreduce of [Σx, Σx², count] per channel (in float64; Σx² as the
//             local sum of squared deviations plus count·mean², so nothing cancels in float);
//             y = (x − μ)/√(σ² + eps)·w + b with μ, σ² (biased) over the global count; running
//             stats ← (1 − momentum)·running + momentum·(μ, σ²·M/(M − 1)), M the global count.
//             backward: one allreduce of [Σdy, Σdy·x̂] per channel;
//             dx = w·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) with the means over the global count;
//             dweight = Σdy·x̂ and dbias = Σdy over this rank's images only (the gradient
//             averaging divides them by the world size like any parameter). With every rank's
//             loss the mean over its own images, this is the single-process gradient of the mean
//             of the ranks' losses, as PyTorch's SyncBatchNorm with DistributedDataParallel.
//             (The input gradient on a rank is that of the *sum* of the ranks' losses, exactly as
//             in PyTorch: the upstream parameter gradients are averaged over the ranks.)
//   throws:   whatever `allreduce` throws (train::DistributedError on a lost peer);
//             c10::Error when the global count is 1 (no variance, as plain batch norm says).

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace lossdoctor::model {

/// Sums a contiguous tensor over every rank of a data-parallel group, in place.
using AllreduceSum = std::function<void(at::Tensor&)>;

/// Batch norm over the global batch, in training mode (see the contract above). `momentum` is
/// the exponential average factor applied to the running statistics this step.
at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var,
                           double momentum, double eps,
                           std::shared_ptr<const AllreduceSum> allreduce);

}  // namespace lossdoctor::model
