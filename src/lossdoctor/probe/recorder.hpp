#pragma once
// Recorder: turns the tensors of a training step into RunRecord numbers. Shared by the spec
// trainer's probe (TrainerProbe) and the public Monitor for hand-written loops.
//
// Call order per step: [on_activation for each layer, probe steps only] → on_batch (after
// backward) → on_gradients → (optimiser step) → on_update.
//
// Cost: full measurements (update and weight norms, gradient copies) only on "dense" steps — the
// first kDenseHead steps, probe steps and the step before each — and on every step for the
// Monitor (loop bugs need consecutive gradients); other steps record loss, lr, gradient norm,
// input statistics, labels and per-sample dynamics, and NaN for what they skip.
//
// Contract:
//   requires: `layer_weights[i]` is the weight tensor of layers[i] (undefined for weightless
//             layers); `params` are all trainable parameters.
//   ensures:  every step appends one StepSample; every probe step (step % probe_every == 0)
//             appends one LayerProbe and one NoiseSample. Tensors are only read, never changed;
//             nothing is kept across steps but flat copies of the previous gradient and of the
//             parameters before the step.

#include <torch/types.h>

#include <limits>
#include <vector>

#include "lossdoctor/run_record.hpp"

namespace lossdoctor::probe {

class Recorder {
 public:
  Recorder(RunRecord setup, std::vector<torch::Tensor> layer_weights,
           std::vector<torch::Tensor> params);

  bool is_probe_step(int64_t step) const;
  /// Full measurements (update sizes, consecutive-gradient change) on every step — the default
  /// for hand-written loops (RunRecord::custom_loop), whose bugs show in consecutive steps — or,
  /// when false, only on the first steps, probe steps and the step before each, as for the spec
  /// trainer. Call before the first step.
  void set_measure_every_step(bool every_step) { every_step_ = every_step; }

  /// A layer's forward output at a probe step.
  void on_activation(size_t layer_index, const torch::Tensor& output, int64_t step);
  /// Opens the step's StepSample with only its step, epoch and rate (loss NaN until
  /// record_batch). For front ends whose hooks see the gradients before the batch (Python's
  /// optimizer pre-step hook); on_batch does both.
  void begin_step(int64_t step, int64_t epoch, double lr);
  /// Fills the open StepSample (begin_step) from the batch: loss, inputs, labels, outputs.
  void record_batch(int64_t step, const torch::Tensor& inputs, const torch::Tensor& labels,
                    const torch::Tensor& output, const torch::Tensor& sample_loss,
                    const torch::Tensor& indices, double loss, double reference_loss);
  /// After backward. `indices` (positions in the training split) may be undefined;
  /// `reference_loss` is NaN unless the caller computed the loss itself.
  void on_batch(int64_t step, int64_t epoch, const torch::Tensor& inputs,
                const torch::Tensor& labels, const torch::Tensor& output,
                const torch::Tensor& sample_loss, const torch::Tensor& indices, double loss,
                double lr, double reference_loss);
  /// The open step's batch predicted again in eval mode with the same weights (`output`: [B, K]
  /// scores): sets its eval_batch_accuracy.
  void on_eval_output(const torch::Tensor& labels, const torch::Tensor& output);
  /// After backward, before clipping and the optimiser step. `grad_norm`: the global gradient
  /// norm when the caller already has it (NaN: computed here).
  void on_gradients(int64_t step, double grad_norm = std::numeric_limits<double>::quiet_NaN());
  /// After the optimiser step.
  void on_update(int64_t step);
  void on_epoch(const EpochSample& epoch);

  RunRecord& record() { return record_; }
  const RunRecord& record() const { return record_; }

 private:
  bool is_dense_step(int64_t step) const;
  torch::Tensor flat_grads(torch::Tensor& buffer) const;
  torch::Tensor flat_params(torch::Tensor& buffer) const;

  RunRecord record_;
  std::vector<torch::Tensor> layer_weights_, params_;
  LayerProbe pending_;  ///< probe being filled during the current probe step
  bool probing_ = false;
  bool batch_pending_ = false;  ///< begin_step without record_batch yet
  bool every_step_ = false;     ///< see set_measure_every_step
  torch::Tensor prev_grad_, params_before_, params_after_, grad_buffer_;
  std::vector<torch::Tensor> layer_weights_before_;
  torch::Tensor noise_prev_;  ///< gradient of the step before a probe step
  int64_t noise_prev_step_ = -2;
  std::vector<double> noise_sq_, noise_dot_;
};

/// Mean, std, min, max over the finite values, and the non-finite fraction.
TensorStats tensor_stats(const torch::Tensor& t);

}  // namespace lossdoctor::probe
