#pragma once
// lossdoctor::Monitor — the doctor for hand-written libtorch training loops.
//
//   lossdoctor::Monitor monitor(*model, lossdoctor::MonitorOptions().num_classes(10).lr(0.01));
//   for (...) {
//     optimizer.zero_grad();
//     auto output = model->forward(x);
//     auto loss = torch::nn::functional::cross_entropy(output, y);
//     monitor.after_forward(x, output, y, loss);
//     loss.backward();
//     monitor.after_backward();
//     optimizer.step();
//     monitor.after_step();
//   }
//   lossdoctor::report::Report report = monitor.diagnose();
//
// Contract:
//   requires: calls in the order after_forward → after_backward → after_step for every step;
//             `output` is [B, K] class scores (logits unless options say otherwise), `labels`
//             int64 [B]; the model's parameters are the ones the optimiser should update.
//   ensures:  the same RunRecord the spec trainer's probes build (minus per-layer activations,
//             which need lossdoctor's own Network) and the same Diagnoser, plus the loop bugs a
//             spec cannot express: gradients_not_reset, params_not_updated, loss_sign_flipped.
//             The Monitor only reads tensors; it never changes the model or its gradients.

#include <torch/nn/module.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor {

namespace probe {
class Recorder;
}

/// Options in libtorch's builder style.
struct MonitorOptions {
#define LOSSDOCTOR_OPTION(type, name, init) \
  MonitorOptions& name(type v) {            \
    name##_ = std::move(v);                 \
    return *this;                           \
  }                                         \
  type name##_ = init;
  LOSSDOCTOR_OPTION(int64_t, num_classes, 10)
  LOSSDOCTOR_OPTION(int64_t, probe_every, 10)
  /// sgd | adam | adamw | rmsprop | adagrad | adadelta | other
  LOSSDOCTOR_OPTION(std::string, optimizer, "other")
  LOSSDOCTOR_OPTION(double, lr, 0.0)
  /// cross_entropy | nll | mse | bce — what the loop minimises
  LOSSDOCTOR_OPTION(std::string, loss, "cross_entropy")
  LOSSDOCTOR_OPTION(bool, from_logits, true)
  /// size of the training set, for per-sample dynamics (0: not tracked)
  LOSSDOCTOR_OPTION(int64_t, train_size, 0)
  LOSSDOCTOR_OPTION(std::string, name, "custom loop")
  /// Full measurements on every step (update sizes, consecutive-gradient change): they catch a
  /// loop that never resets its gradients or never updates its weights from the numbers alone.
  /// false measures them on probe steps and the steps around them, as the spec trainer does (the
  /// Python Monitor, which watches zero_grad and the optimiser's parameters directly).
  LOSSDOCTOR_OPTION(bool, measure_every_step, true)
#undef LOSSDOCTOR_OPTION
};

/// One layer a front end watches (the Python Monitor builds these from a torch.nn.Module).
struct MonitoredLayer {
  std::string name;      ///< e.g. "features.0"
  std::string kind;      ///< spec spelling: conv2d, dense, relu, batchnorm, sigmoid, softmax, ...
  torch::Tensor weight;  ///< conv2d/dense weight; undefined for weightless layers
};

class Monitor {
 public:
  explicit Monitor(torch::nn::Module& model, MonitorOptions options = {});
  /// For front ends that describe the model themselves: `params` are all trainable parameters.
  Monitor(std::vector<MonitoredLayer> layers, std::vector<torch::Tensor> params,
          MonitorOptions options = {});
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// After the forward pass and the loss. `indices` (positions in the training set) is optional.
  void after_forward(const torch::Tensor& inputs, const torch::Tensor& output,
                     const torch::Tensor& labels, const torch::Tensor& loss,
                     const torch::Tensor& indices = {});
  /// After loss.backward().
  void after_backward();
  /// After optimizer.step(); `lr` is the rate used for this step when the loop knows it.
  void after_step(double lr = std::numeric_limits<double>::quiet_NaN());
  /// Optional, once per epoch.
  void end_epoch(double train_loss, double train_accuracy, double val_loss, double val_accuracy);

  // The same step, seen through hooks (the Python Monitor): per step, in any order, one
  // record_batch, one before_update when the gradients are final (the optimiser's pre-step
  // hook) and one after_update after the optimiser step; on_activation from forward hooks on
  // probe steps. The step ends once both record_batch and after_update happened. A second
  // record_batch without an optimiser step in between closes the step as one that did not
  // change the weights.

  /// Whether the current step is a probe step (per-layer activations wanted).
  bool probe_step() const;
  /// A layer's forward output (index into the layers given); ignored outside probe steps.
  void on_activation(size_t layer, const torch::Tensor& output);
  void record_batch(const torch::Tensor& inputs, const torch::Tensor& output,
                    const torch::Tensor& labels, double loss, const torch::Tensor& indices = {});
  void before_update();
  void after_update(double lr = std::numeric_limits<double>::quiet_NaN());
  /// A validation batch as the model sees it: its per-channel statistics are compared with the
  /// training batches' (train and validation prepared differently).
  void observe_validation(const torch::Tensor& inputs);
  /// What the front end saw of the loop itself (eval mode, parameter sets).
  LoopChecks& loop_checks();
  /// Findings about the loop's settings, as lint makes them from a spec: the Python Monitor
  /// lints what it reads of the optimiser (weight decay, momentum, betas, eps) and the model
  /// (dropout rates, layer widths). They weigh in the diagnosis as lint findings do. Replaces
  /// earlier ones. Not part of the RunRecord: `diagnose --record-in` does not see them.
  void set_settings_findings(std::vector<Finding> findings);

  int64_t steps() const { return step_; }
  const RunRecord& record() const;
  /// Detectors + diagnoser over everything seen so far (no lint: there is no spec).
  report::Report diagnose() const;
  /// The diagnosis has stopped changing: the same top cause at 4 checks in a row (a check at
  /// most every 25 steps, from step 100; "healthy" only from step 250), as `lossdoctor
  /// diagnose` stops early. A loop may stop here. The checks run when this is asked, so a loop
  /// that never asks pays nothing for them.
  bool settled();

 private:
  void init(std::vector<MonitoredLayer> layers, std::vector<torch::Tensor> params);
  void ensure_step_open();
  void finish_step();
  void check_settled();
  int64_t next_check_ = 25;  ///< the step from which settled() runs its next check

  MonitorOptions options_;
  std::unique_ptr<probe::Recorder> recorder_;
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  bool has_batch_ = false, has_grads_ = false, has_update_ = false;
  // Pending values of the current step, between after_forward and after_backward.
  torch::Tensor inputs_, output_, labels_, indices_;
  double loss_ = 0;
  /// Per-channel running sums of the inputs of one split ([B, C, ...]; [B, F] counts as one
  /// channel), turned into RunRecord::train_stats / val_stats.
  struct SplitSums {
    std::vector<double> sum, sum_sq;
    double count = 0, min = 0, max = 0;
    int64_t samples = 0;
  };
  void accumulate(SplitSums& sums, const torch::Tensor& inputs, std::optional<SplitStats>& out);
  SplitSums train_sums_, val_sums_;
  std::vector<Finding> settings_findings_;  ///< set_settings_findings
  // Early-stop state.
  std::string last_top_;
  int streak_ = 0;
  bool settled_ = false;
};

}  // namespace lossdoctor
