#pragma once
// The audit's own small classifier, shared by the checks that train one: the cross-validated
// label check (label_issues) and the cross-split label agreement (label_agreement). Internal to
// the audit stage (it pulls in torch::nn).
//
// Contract:
//   requires: x float [N, C, H, W] with H, W >= 4; y int64 [N] in [0, K); K >= 2.
//   ensures:  same inputs and seeds → the same weights and probabilities.

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>

namespace lossdoctor::audit {

/// conv 16 → BN → relu → maxpool → conv 32 → BN → relu → maxpool → flatten → dense K.
/// Batch norm makes a few epochs enough for useful out-of-sample probabilities.
torch::nn::Sequential small_cnn(int64_t channels, int64_t height, int64_t width,
                                int64_t num_classes);

/// How fit_small_cnn trains.
struct SmallFit {
  int epochs = 2;
  int64_t batch_size = 128;
  double lr = 2e-3;           ///< Adam
  uint64_t init_seed = 0;     ///< torch::manual_seed before the weights are drawn
  uint64_t shuffle_seed = 0;  ///< order of the samples in each epoch
};

/// A small_cnn trained with Adam on (x, y) (every sample, `fit.epochs` shuffled passes), left in
/// eval mode. `last_loss` (optional) receives the mean batch loss of the last epoch.
torch::nn::Sequential fit_small_cnn(const at::Tensor& x, const at::Tensor& y, int64_t num_classes,
                                    const SmallFit& fit, double* last_loss = nullptr);

/// Softmax probabilities [N, K] of `net` (eval mode, no gradients) for x, in chunks of 1024.
at::Tensor predict_probs(torch::nn::Sequential& net, const at::Tensor& x);

}  // namespace lossdoctor::audit
