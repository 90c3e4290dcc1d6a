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
#include <string>

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
#undef LOSSDOCTOR_OPTION
};

class Monitor {
 public:
  explicit Monitor(torch::nn::Module& model, MonitorOptions options = {});
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

  int64_t steps() const { return step_; }
  const RunRecord& record() const;
  /// Detectors + diagnoser over everything seen so far (no lint: there is no spec).
  report::Report diagnose() const;

 private:
  MonitorOptions options_;
  std::unique_ptr<probe::Recorder> recorder_;
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  // Pending values of the current step, between after_forward and after_backward.
  torch::Tensor inputs_, output_, labels_, sample_loss_, indices_;
  double loss_ = 0, reference_loss_ = 0;
};

}  // namespace lossdoctor
