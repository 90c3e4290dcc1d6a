#include "lossdoctor/probe/recorder.hpp"

#include <cmath>
#include <limits>

namespace lossdoctor::probe {
namespace {

constexpr double kNoiseEmaDecay = 0.9;  ///< ~10-step window for the gradient-noise estimate
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Images of [N, C, H, W] that look corrupt: non-finite, constant, or noise-like.
double odd_fraction(const torch::Tensor& inputs) {
  if (inputs.dim() != 4 || inputs.size(0) == 0 || inputs.size(3) < 2) return 0;
  const torch::Tensor x = inputs.detach().reshape({inputs.size(0), -1});
  const torch::Tensor nonfinite = torch::isfinite(x).logical_not().any(1);
  const torch::Tensor clean = torch::nan_to_num(inputs.detach(), 0.0, 0.0, 0.0);
  const torch::Tensor std = clean.reshape({inputs.size(0), -1}).std(1);
  const torch::Tensor hdiff =
      (clean.narrow(3, 1, clean.size(3) - 1) - clean.narrow(3, 0, clean.size(3) - 1)).abs().mean({1, 2, 3});
  const torch::Tensor constant = std.le(1e-6 * (clean.abs().max() + 1e-12));
  const torch::Tensor noisy = hdiff.gt(0.8 * std) & constant.logical_not();
  return (nonfinite | constant | noisy).to(torch::kFloat64).mean().item<double>();
}

bool is_relu_family(const std::string& kind) {
  return kind == "relu" || kind == "leaky_relu" || kind == "elu" || kind == "selu" || kind == "gelu";
}

/// Fraction of units (channels of [N, C, H, W], features of [N, F]) never positive in the batch.
double dead_fraction(const torch::Tensor& out) {
  if (out.dim() < 2 || out.size(0) == 0) return 0;
  const torch::Tensor per_unit = out.dim() == 4 ? out.gt(0).any(3).any(2).any(0) : out.gt(0).any(0);
  return 1.0 - per_unit.to(torch::kFloat64).mean().item<double>();
}

double saturated_fraction(const std::string& kind, const torch::Tensor& out) {
  if (kind == "sigmoid") return (out.lt(0.01) | out.gt(0.99)).to(torch::kFloat64).mean().item<double>();
  if (kind == "tanh") return out.abs().gt(0.99).to(torch::kFloat64).mean().item<double>();
  return 0;
}

}  // namespace

TensorStats tensor_stats(const torch::Tensor& t) {
  TensorStats s;
  if (!t.defined() || t.numel() == 0) return s;
  const torch::Tensor x = t.detach().to(torch::kFloat64);
  const torch::Tensor finite = torch::isfinite(x);
  const int64_t n_finite = finite.sum().item<int64_t>();
  s.nonfinite_fraction = 1.0 - static_cast<double>(n_finite) / x.numel();
  if (n_finite == 0) {
    s.mean = s.std = s.min = s.max = kNaN;
    return s;
  }
  const torch::Tensor v = n_finite == x.numel() ? x : x.masked_select(finite);
  s.mean = v.mean().item<double>();
  s.std = v.numel() > 1 ? v.std().item<double>() : 0.0;
  s.min = v.min().item<double>();
  s.max = v.max().item<double>();
  return s;
}

Recorder::Recorder(RunRecord setup, std::vector<torch::Tensor> layer_weights,
                   std::vector<torch::Tensor> params)
    : record_(std::move(setup)), layer_weights_(std::move(layer_weights)), params_(std::move(params)) {
  if (record_.probe_every < 1) record_.probe_every = 1;
  record_.samples.resize(static_cast<size_t>(std::max<int64_t>(0, record_.train_size)));
}

bool Recorder::is_probe_step(int64_t step) const { return step % record_.probe_every == 0; }

torch::Tensor Recorder::flat_grads() const {
  std::vector<torch::Tensor> parts;
  parts.reserve(params_.size());
  for (const auto& p : params_) {
    parts.push_back(p.grad().defined() ? p.grad().detach().reshape(-1) : torch::zeros({p.numel()}, p.options()));
  }
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

torch::Tensor Recorder::flat_params() const {
  std::vector<torch::Tensor> parts;
  parts.reserve(params_.size());
  for (const auto& p : params_) parts.push_back(p.detach().reshape(-1));
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

void Recorder::on_activation(size_t layer_index, const torch::Tensor& output, int64_t step) {
  if (!is_probe_step(step) || layer_index >= record_.layers.size()) return;
  if (!probing_) {
    pending_ = LayerProbe{};
    pending_.step = step;
    pending_.layers.resize(record_.layers.size());
    probing_ = true;
  }
  torch::NoGradGuard no_grad;
  const auto& kind = record_.layers[layer_index].kind;
  LayerSample& s = pending_.layers[layer_index];
  s.activation = tensor_stats(output);
  if (is_relu_family(kind)) s.dead_fraction = dead_fraction(output.detach());
  s.saturated_fraction = saturated_fraction(kind, output.detach());
  if (!record_.first_nonfinite && s.activation.nonfinite_fraction > 0) {
    record_.first_nonfinite = NonFiniteOrigin{step, record_.layers[layer_index].name, false};
  }
}

void Recorder::on_batch(int64_t step, int64_t epoch, const torch::Tensor& inputs,
                        const torch::Tensor& labels, const torch::Tensor& output,
                        const torch::Tensor& sample_loss, const torch::Tensor& indices, double loss,
                        double lr, double reference_loss) {
  torch::NoGradGuard no_grad;
  StepSample s;
  s.step = step;
  s.epoch = epoch;
  s.loss = loss;
  s.lr = lr;
  s.reference_loss = reference_loss;
  s.input = tensor_stats(inputs);
  s.odd_input_fraction = odd_fraction(inputs);
  const torch::Tensor out = output.detach().to(torch::kCPU).to(torch::kFloat64);
  const torch::Tensor y = labels.detach().to(torch::kCPU);
  if (out.dim() == 2 && out.size(0) == y.size(0) && out.size(1) == record_.num_classes) {
    s.batch_accuracy = out.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
    const torch::Tensor hist = torch::bincount(y, {}, record_.num_classes);
    s.label_histogram.assign(hist.data_ptr<int64_t>(), hist.data_ptr<int64_t>() + hist.numel());
    if (indices.defined() && !record_.samples.empty()) {
      // margin = score of the given label − best other score
      const torch::Tensor own = out.gather(1, y.unsqueeze(1)).squeeze(1);
      const torch::Tensor others = out.scatter(1, y.unsqueeze(1), -std::numeric_limits<double>::infinity());
      const torch::Tensor margin = (own - std::get<0>(others.max(1))).to(torch::kFloat32).contiguous();
      const torch::Tensor losses = sample_loss.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
      const torch::Tensor idx = indices.to(torch::kCPU).to(torch::kInt64).contiguous();
      const float* m = margin.data_ptr<float>();
      const float* l = losses.data_ptr<float>();
      const int64_t* ix = idx.data_ptr<int64_t>();
      for (int64_t i = 0; i < idx.numel(); ++i) {
        if (ix[i] < 0 || ix[i] >= static_cast<int64_t>(record_.samples.size())) continue;
        SampleDynamics& d = record_.samples[static_cast<size_t>(ix[i])];
        ++d.times_seen;
        d.last_loss = l[i];
        d.mean_margin += (m[i] - d.mean_margin) / static_cast<float>(d.times_seen);
        if (d.first_learned_step < 0 && m[i] > 0) d.first_learned_step = static_cast<int32_t>(step);
      }
    }
  }
  if (!record_.first_nonfinite && s.input.nonfinite_fraction > 0) {
    record_.first_nonfinite = NonFiniteOrigin{step, "input", false};
  } else if (record_.first_nonfinite && record_.first_nonfinite->step == step && s.input.nonfinite_fraction > 0) {
    record_.first_nonfinite->layer = "input";  // the data was bad before any layer saw it
  }
  if (!record_.first_nonfinite && !std::isfinite(loss)) {
    record_.first_nonfinite = NonFiniteOrigin{step, "loss", false};
  }
  record_.steps.push_back(std::move(s));
}

void Recorder::on_gradients(int64_t step) {
  torch::NoGradGuard no_grad;
  StepSample& s = record_.steps.back();
  const torch::Tensor g = flat_grads();
  const double g_norm = g.norm().item<double>();
  s.grad_norm = g_norm;
  s.grad_change_ratio = prev_grad_.defined() && prev_grad_.numel() == g.numel() && g_norm > 0
                            ? (g - prev_grad_).norm().item<double>() / g_norm
                            : kNaN;
  prev_grad_ = g;

  // Gradient-noise scale: running mean of g and of |g|².
  if (std::isfinite(g_norm)) {
    grad_ema_ = grad_ema_.defined() ? grad_ema_.mul_(kNoiseEmaDecay).add_(g, 1 - kNoiseEmaDecay)
                                    : g * (1 - kNoiseEmaDecay);
    grad_sq_ema_ = kNoiseEmaDecay * grad_sq_ema_ + (1 - kNoiseEmaDecay) * g_norm * g_norm;
    ++ema_steps_;
  }

  if (is_probe_step(step)) {
    if (!probing_) {
      pending_ = LayerProbe{};
      pending_.step = step;
      pending_.layers.resize(record_.layers.size());
      probing_ = true;
    }
    layer_weights_before_.assign(layer_weights_.size(), torch::Tensor());
    for (size_t i = 0; i < layer_weights_.size() && i < pending_.layers.size(); ++i) {
      const torch::Tensor& w = layer_weights_[i];
      if (!w.defined()) continue;
      LayerSample& ls = pending_.layers[i];
      ls.has_weights = true;
      ls.weight_norm = w.detach().norm().item<double>();
      ls.grad_norm = w.grad().defined() ? w.grad().detach().norm().item<double>() : 0.0;
      layer_weights_before_[i] = w.detach().clone();
    }
    if (ema_steps_ > 0) {
      const double correction = 1.0 - std::pow(kNoiseEmaDecay, static_cast<double>(ema_steps_));
      const double mean_sq = grad_sq_ema_ / correction;
      const double sq_mean = (grad_ema_ / correction).pow(2).sum().item<double>();
      record_.noise.push_back(NoiseSample{step, mean_sq, sq_mean});
    }
  }
  // Backward origin of non-finite values: the loss was finite but a gradient is not.
  if (!record_.first_nonfinite && !std::isfinite(g_norm) && std::isfinite(s.loss)) {
    std::string layer = "unknown";
    for (size_t i = layer_weights_.size(); i-- > 0;) {
      const torch::Tensor& w = layer_weights_[i];
      if (w.defined() && w.grad().defined() && !torch::isfinite(w.grad()).all().item<bool>()) {
        layer = record_.layers[i].name;
        break;
      }
    }
    record_.first_nonfinite = NonFiniteOrigin{step, layer, true};
  }
  params_before_ = flat_params().clone();
}

void Recorder::on_update(int64_t step) {
  torch::NoGradGuard no_grad;
  StepSample& s = record_.steps.back();
  const torch::Tensor after = flat_params();
  if (params_before_.defined() && params_before_.numel() == after.numel()) {
    s.update_norm = (after - params_before_).norm().item<double>();
  }
  s.weight_norm = after.norm().item<double>();
  if (probing_ && pending_.step == step) {
    for (size_t i = 0; i < layer_weights_before_.size(); ++i) {
      if (!layer_weights_before_[i].defined()) continue;
      LayerSample& ls = pending_.layers[i];
      const double delta = (layer_weights_[i].detach() - layer_weights_before_[i]).norm().item<double>();
      ls.update_ratio = ls.weight_norm > 0 ? delta / ls.weight_norm : 0.0;
    }
    record_.probes.push_back(std::move(pending_));
    probing_ = false;
  }
}

void Recorder::on_epoch(const EpochSample& epoch) { record_.epochs.push_back(epoch); }

}  // namespace lossdoctor::probe
