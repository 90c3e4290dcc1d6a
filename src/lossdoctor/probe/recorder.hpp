#pragma once
// Recorder: turns the tensors of a training step into RunRecord numbers. Shared by the spec
// trainer's probe (TrainerProbe) and the public Monitor for hand-written loops.
//
// Call order per step: [on_activation for each layer, probe steps only] → on_batch (after
// backward) → on_gradients → (optimiser step) → on_update.
//
// Contract:
//   requires: `layer_weights[i]` is the weight tensor of layers[i] (undefined for weightless
//             layers); `params` are all trainable parameters.
//   ensures:  every step appends one StepSample; every probe step (step % probe_every == 0)
//             appends one LayerProbe and one NoiseSample. Tensors are only read, never changed;
//             nothing is kept across steps but flat copies of the previous gradient and of the
//             parameters before the step.

#include <torch/types.h>

#include <vector>

#include "lossdoctor/run_record.hpp"

namespace lossdoctor::probe {

class Recorder {
 public:
  Recorder(RunRecord setup, std::vector<torch::Tensor> layer_weights, std::vector<torch::Tensor> params);

  bool is_probe_step(int64_t step) const;

  /// A layer's forward output at a probe step.
  void on_activation(size_t layer_index, const torch::Tensor& output, int64_t step);
  /// After backward. `indices` (positions in the training split) may be undefined;
  /// `reference_loss` is NaN unless the caller computed the loss itself.
  void on_batch(int64_t step, int64_t epoch, const torch::Tensor& inputs, const torch::Tensor& labels,
                const torch::Tensor& output, const torch::Tensor& sample_loss,
                const torch::Tensor& indices, double loss, double lr, double reference_loss);
  /// After backward, before clipping and the optimiser step.
  void on_gradients(int64_t step);
  /// After the optimiser step.
  void on_update(int64_t step);
  void on_epoch(const EpochSample& epoch);

  RunRecord& record() { return record_; }
  const RunRecord& record() const { return record_; }

 private:
  torch::Tensor flat_grads() const;
  torch::Tensor flat_params() const;

  RunRecord record_;
  std::vector<torch::Tensor> layer_weights_, params_;
  LayerProbe pending_;        ///< probe being filled during the current probe step
  bool probing_ = false;
  torch::Tensor prev_grad_, params_before_;
  std::vector<torch::Tensor> layer_weights_before_;
  torch::Tensor grad_ema_;    ///< running mean gradient, for the noise scale
  double grad_sq_ema_ = 0;
  int64_t ema_steps_ = 0;
};

/// Mean, std, min, max over the finite values, and the non-finite fraction.
TensorStats tensor_stats(const torch::Tensor& t);

}  // namespace lossdoctor::probe
