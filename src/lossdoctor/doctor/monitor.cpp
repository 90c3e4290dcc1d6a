#include "lossdoctor/monitor.hpp"

#include <fmt/format.h>
#include <torch/nn/modules/batchnorm.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/probe/recorder.hpp"

namespace lossdoctor {

Monitor::Monitor(torch::nn::Module& model, MonitorOptions options) : options_(std::move(options)) {
  RunRecord setup;
  setup.spec_name = options_.name_;
  setup.custom_loop = true;
  setup.num_classes = options_.num_classes_;
  setup.optimizer = options_.optimizer_;
  setup.base_lr = options_.lr_;
  setup.loss = options_.loss_;
  setup.from_logits = options_.from_logits_;
  setup.probe_every = options_.probe_every_;
  setup.train_size = options_.train_size_;
  std::vector<torch::Tensor> weights;
  for (const auto& item : model.named_modules("model", /*include_self=*/false)) {
    const auto& module = item.value();
    const bool is_bn = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(module.get()) ||
                       dynamic_cast<const torch::nn::BatchNorm2dImpl*>(module.get());
    // Keep the dict alive: find() points into it.
    const auto own_params = module->named_parameters(/*recurse=*/false);
    const torch::Tensor* w = own_params.find("weight");
    if (!is_bn && (w == nullptr || w->dim() < 2)) continue;
    LayerDescription d;
    d.name = item.key();
    if (is_bn) {
      d.kind = "batchnorm";
      weights.emplace_back();
    } else {
      d.kind = w->dim() == 4 ? "conv2d" : w->dim() == 2 ? "dense" : "other";
      d.has_weights = true;
      d.fan_in = (*w)[0].numel();
      weights.push_back(*w);
    }
    setup.layers.push_back(std::move(d));
  }
  recorder_ =
      std::make_unique<probe::Recorder>(std::move(setup), std::move(weights), model.parameters());
}

Monitor::~Monitor() = default;

void Monitor::after_forward(const torch::Tensor& inputs, const torch::Tensor& output,
                            const torch::Tensor& labels, const torch::Tensor& loss,
                            const torch::Tensor& indices) {
  torch::NoGradGuard no_grad;
  inputs_ = inputs.detach();
  output_ = output.detach();
  labels_ = labels.detach();
  indices_ = indices.defined() ? indices.detach() : torch::Tensor();
  loss_ = loss.detach().item<double>();
  if (recorder_->record().batch_size == 0) recorder_->record().batch_size = labels.size(0);
  // Our own cross-entropy of the outputs: the reference a negated or mis-wired loss is compared
  // with.
  if (output_.dim() == 2 && output_.size(1) == options_.num_classes_) {
    const torch::Tensor log_probs = options_.from_logits_
                                        ? torch::log_softmax(output_.to(torch::kFloat64), 1)
                                        : torch::log(output_.to(torch::kFloat64).clamp(1e-7, 1.0));
    sample_loss_ = -log_probs.gather(1, labels_.unsqueeze(1)).squeeze(1);
    reference_loss_ = options_.loss_ == "cross_entropy" ? sample_loss_.mean().item<double>()
                                                        : std::numeric_limits<double>::quiet_NaN();
  } else {
    sample_loss_ = torch::full({labels.size(0)}, loss_);
    reference_loss_ = std::numeric_limits<double>::quiet_NaN();
  }
}

void Monitor::after_backward() {
  recorder_->on_batch(step_, epoch_, inputs_, labels_, output_, sample_loss_, indices_, loss_,
                      std::isfinite(options_.lr_) ? options_.lr_ : 0.0, reference_loss_);
  recorder_->on_gradients(step_);
}

void Monitor::after_step(double lr) {
  if (std::isfinite(lr)) recorder_->record().steps.back().lr = lr;
  recorder_->on_update(step_);
  ++step_;
  inputs_ = output_ = labels_ = sample_loss_ = indices_ = torch::Tensor();
}

void Monitor::end_epoch(double train_loss, double train_accuracy, double val_loss,
                        double val_accuracy) {
  recorder_->on_epoch({epoch_, step_, train_loss, train_accuracy, val_loss, val_accuracy});
  ++epoch_;
}

const RunRecord& Monitor::record() const { return recorder_->record(); }

report::Report Monitor::diagnose() const {
  const RunRecord& record = recorder_->record();
  const auto symptoms = diagnose::detect_symptoms(record);
  const auto d = diagnose::diagnose(record, symptoms, {});
  report::Report r;
  r.command = "diagnose";
  r.spec = options_.name_;
  r.verdict = d.verdict;
  r.steps_run = step_;
  r.findings = d.findings;
  r.symptoms = symptoms;
  r.notes = d.notes;
  return r;
}

}  // namespace lossdoctor
