#include "lossdoctor/monitor.hpp"

#include <fmt/format.h>
#include <torch/nn/modules/batchnorm.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/probe/recorder.hpp"

namespace lossdoctor {
namespace {

constexpr int64_t kCheckEvery = 25;        ///< steps between early-stop checks
constexpr int64_t kMinSteps = 100;         ///< no early stop before this
constexpr int64_t kHealthyMinSteps = 250;  ///< no early "healthy" before this
constexpr int kSettleChecks = 4;           ///< same top cause this many checks in a row

/// Outputs that are already probabilities: every row ≥ 0 and summing to 1 (softmax applied).
bool rows_are_probabilities(const torch::Tensor& output) {
  if (output.dim() != 2 || output.size(0) == 0 || output.size(1) < 2) return false;
  const torch::Tensor o = output.to(torch::kFloat64);
  if (!torch::isfinite(o).all().item<bool>()) return false;
  return o.min().item<double>() >= 0.0 && (o.sum(1) - 1.0).abs().max().item<double>() < 1e-3;
}

}  // namespace

Monitor::Monitor(torch::nn::Module& model, MonitorOptions options) : options_(std::move(options)) {
  std::vector<MonitoredLayer> layers;
  for (const auto& item : model.named_modules("model", /*include_self=*/false)) {
    const auto& module = item.value();
    const bool is_bn = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(module.get()) ||
                       dynamic_cast<const torch::nn::BatchNorm2dImpl*>(module.get());
    // Keep the dict alive: find() points into it.
    const auto own_params = module->named_parameters(/*recurse=*/false);
    const torch::Tensor* w = own_params.find("weight");
    if (!is_bn && (w == nullptr || w->dim() < 2)) continue;
    if (is_bn) {
      layers.push_back({item.key(), "batchnorm", torch::Tensor()});
    } else {
      layers.push_back({item.key(),
                        w->dim() == 4   ? "conv2d"
                        : w->dim() == 2 ? "dense"
                                        : "other",
                        *w});
    }
  }
  init(std::move(layers), model.parameters());
}

Monitor::Monitor(std::vector<MonitoredLayer> layers, std::vector<torch::Tensor> params,
                 MonitorOptions options)
    : options_(std::move(options)) {
  init(std::move(layers), std::move(params));
}

void Monitor::init(std::vector<MonitoredLayer> layers, std::vector<torch::Tensor> params) {
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
  for (auto& layer : layers) {
    LayerDescription d;
    d.name = layer.name;
    d.kind = layer.kind;
    d.has_weights = layer.weight.defined();
    if (d.has_weights && layer.weight.dim() >= 2) d.fan_in = layer.weight[0].numel();
    setup.layers.push_back(std::move(d));
    weights.push_back(layer.weight);
  }
  setup.loop.model_params = static_cast<int64_t>(params.size());
  recorder_ =
      std::make_unique<probe::Recorder>(std::move(setup), std::move(weights), std::move(params));
  recorder_->set_measure_every_step(options_.measure_every_step_);
}

Monitor::~Monitor() = default;

// -- The libtorch loop's three calls ----------------------------------------------------------

void Monitor::after_forward(const torch::Tensor& inputs, const torch::Tensor& output,
                            const torch::Tensor& labels, const torch::Tensor& loss,
                            const torch::Tensor& indices) {
  inputs_ = inputs.detach();
  output_ = output.detach();
  labels_ = labels.detach();
  indices_ = indices.defined() ? indices.detach() : torch::Tensor();
  loss_ = loss.detach().item<double>();
}

void Monitor::after_backward() {
  record_batch(inputs_, output_, labels_, loss_, indices_);
  before_update();
  inputs_ = output_ = labels_ = indices_ = torch::Tensor();
}

void Monitor::after_step(double lr) { after_update(lr); }

// -- The step seen through hooks --------------------------------------------------------------

bool Monitor::probe_step() const { return recorder_->is_probe_step(step_); }

void Monitor::on_activation(size_t layer, const torch::Tensor& output) {
  if (!probe_step() || !output.defined()) return;
  recorder_->on_activation(layer, output.detach(), step_);
}

void Monitor::ensure_step_open() {
  if (has_batch_ || has_grads_) return;  // either one opened the step
  recorder_->begin_step(step_, epoch_, std::isfinite(options_.lr_) ? options_.lr_ : 0.0);
}

void Monitor::record_batch(const torch::Tensor& inputs, const torch::Tensor& output,
                           const torch::Tensor& labels, double loss, const torch::Tensor& indices) {
  torch::NoGradGuard no_grad;
  if (has_batch_) {
    // A second batch without an optimiser step: the step that was open changed nothing.
    if (!has_grads_) before_update();
    recorder_->on_update(step_);
    finish_step();
  }
  ensure_step_open();
  RunRecord& record = recorder_->record();
  if (record.batch_size == 0 && labels.defined() && labels.dim() >= 1) {
    record.batch_size = labels.size(0);
  }
  const torch::Tensor out = output.defined() ? output.detach() : torch::Tensor();
  const torch::Tensor y = labels.defined() ? labels.detach() : torch::Tensor();
  const int64_t k = options_.num_classes_;
  LoopChecks& loop = record.loop;
  // Targets outside [0, K): the model, the Monitor and the labels count classes differently.
  bool labels_ok = y.defined() && y.dim() == 1 && y.numel() > 0 && !y.is_floating_point();
  // Without measure_every_step, the output checks run on probe steps only (cheaper; the
  // fractions are of the steps checked).
  const bool full = options_.measure_every_step_ || probe_step();
  if (labels_ok) {
    const auto [lo_t, hi_t] = torch::aminmax(y);
    const int64_t lo = lo_t.item<int64_t>(), hi = hi_t.item<int64_t>();
    loop.largest_label = std::max(loop.largest_label, hi);
    if (lo < 0 || hi >= k) {
      ++loop.labels_out_of_range_steps;
      labels_ok = false;
    }
  }
  if (full && out.defined()) {
    ++loop.output_checks;
    if (options_.loss_ == "cross_entropy" && options_.from_logits_ && rows_are_probabilities(out))
      ++loop.probability_output_steps;
  }
  // Our own cross-entropy of the outputs: the reference a negated or mis-wired loss is compared
  // with, and the per-sample losses of the sample dynamics.
  torch::Tensor sample_loss;
  double reference_loss = std::numeric_limits<double>::quiet_NaN();
  if ((full || indices.defined()) && labels_ok && out.defined() && out.dim() == 2 &&
      out.size(1) == k && out.size(0) == y.size(0)) {
    const torch::Tensor log_probs = options_.from_logits_
                                        ? torch::log_softmax(out.to(torch::kFloat64), 1)
                                        : torch::log(out.to(torch::kFloat64).clamp(1e-7, 1.0));
    sample_loss = -log_probs.gather(1, y.to(out.device()).unsqueeze(1)).squeeze(1);
    if (options_.loss_ == "cross_entropy") reference_loss = sample_loss.mean().item<double>();
  } else if (indices.defined() && y.defined() && y.dim() >= 1) {
    sample_loss = torch::full({y.size(0)}, loss);
  }
  // Training statistics from the probe steps' batches: a sample of batches is enough.
  if (inputs.defined() && probe_step())
    accumulate(train_sums_, inputs.detach(), record.train_stats);
  recorder_->record_batch(step_, inputs.defined() ? inputs.detach() : torch::Tensor(),
                          labels_ok ? y : torch::Tensor(), out, sample_loss,
                          indices.defined() ? indices.detach() : torch::Tensor(), loss,
                          reference_loss);
  has_batch_ = true;
  if (has_update_) finish_step();
}

void Monitor::before_update() {
  if (has_grads_) return;
  ensure_step_open();
  recorder_->on_gradients(step_);
  has_grads_ = true;
}

void Monitor::after_update(double lr) {
  if (!has_grads_) before_update();
  if (std::isfinite(lr)) recorder_->record().steps.back().lr = lr;
  recorder_->on_update(step_);
  has_update_ = true;
  if (has_batch_) finish_step();
}

void Monitor::finish_step() {
  ++step_;
  has_batch_ = has_grads_ = has_update_ = false;
}

bool Monitor::settled() {
  if (step_ >= next_check_) {
    check_settled();
    next_check_ = (step_ / kCheckEvery + 1) * kCheckEvery;
  }
  return settled_;
}

void Monitor::check_settled() {
  const RunRecord& record = recorder_->record();
  const auto symptoms = diagnose::detect_symptoms(record);
  const auto d = diagnose::diagnose(record, symptoms, settings_findings_);
  const std::string top = d.findings.empty() ? "healthy" : d.findings.front().cause;
  streak_ = top == last_top_ ? streak_ + 1 : 1;
  last_top_ = top;
  const int64_t needed = diagnose::early_stop_min_steps(
      top, symptoms, kMinSteps, kHealthyMinSteps, diagnose::label_evidence_steps(record),
      /*rate_still_rising=*/false, diagnose::validation_at_chance_now(record));
  settled_ = step_ >= needed && streak_ >= kSettleChecks;
}

void Monitor::observe_validation(const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  if (inputs.defined()) accumulate(val_sums_, inputs.detach(), recorder_->record().val_stats);
}

void Monitor::accumulate(SplitSums& sums, const torch::Tensor& inputs,
                         std::optional<SplitStats>& out) {
  if (inputs.dim() < 2 || inputs.size(0) == 0) return;
  const torch::Tensor x = inputs.to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(x).all().item<bool>()) return;  // corrupt batches have their own checks
  // [B, C, H, W] → per channel; [B, F] → one channel.
  const torch::Tensor by_channel =
      x.dim() >= 3 ? x.transpose(0, 1).reshape({x.size(1), -1}) : x.reshape({1, -1});
  const int64_t c = by_channel.size(0);
  if (sums.sum.empty()) {
    sums.sum.assign(static_cast<size_t>(c), 0.0);
    sums.sum_sq.assign(static_cast<size_t>(c), 0.0);
    sums.min = std::numeric_limits<double>::infinity();
    sums.max = -std::numeric_limits<double>::infinity();
  }
  if (static_cast<int64_t>(sums.sum.size()) != c) return;  // a different input shape: skip
  const torch::Tensor s = by_channel.sum(1), sq = by_channel.pow(2).sum(1);
  for (int64_t k = 0; k < c; ++k) {
    sums.sum[static_cast<size_t>(k)] += s[k].item<double>();
    sums.sum_sq[static_cast<size_t>(k)] += sq[k].item<double>();
  }
  sums.count += static_cast<double>(by_channel.size(1));
  sums.min = std::min(sums.min, x.min().item<double>());
  sums.max = std::max(sums.max, x.max().item<double>());
  sums.samples += x.size(0);
  SplitStats stats;
  for (size_t k = 0; k < sums.sum.size(); ++k) {
    const double mean = sums.sum[k] / sums.count;
    stats.channel_mean.push_back(mean);
    stats.channel_std.push_back(
        std::sqrt(std::max(0.0, sums.sum_sq[k] / sums.count - mean * mean)));
  }
  stats.min = sums.min;
  stats.max = sums.max;
  stats.samples = sums.samples;
  out = std::move(stats);
}

LoopChecks& Monitor::loop_checks() { return recorder_->record().loop; }

void Monitor::set_settings_findings(std::vector<Finding> findings) {
  settings_findings_ = std::move(findings);
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
  const auto d = diagnose::diagnose(record, symptoms, settings_findings_);
  report::Report r;
  r.command = "diagnose";
  r.custom_loop = true;
  r.spec = options_.name_;
  r.verdict = d.verdict;
  r.steps_run = step_;
  r.findings = d.findings;
  r.symptoms = symptoms;
  r.notes = d.notes;
  return r;
}

}  // namespace lossdoctor
