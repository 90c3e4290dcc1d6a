#include "lossdoctor/probe/recorder.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/spec/kinds.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::probe {
namespace {

constexpr int64_t kActivationSamples = 8;  ///< samples behind each layer's activation statistics
constexpr int64_t kDenseHead = 5;          ///< first steps measured in full (update sizes)
constexpr size_t kNoiseWindow = 5;         ///< probes averaged in the gradient-noise estimate
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The probe stores data::odd_image_kinds' codes as they are in SampleDynamics::look.
static_assert(data::kCleanImage == SampleDynamics::kClean &&
              data::kBrokenImage == SampleDynamics::kBroken &&
              data::kNoiseLikeImage == SampleDynamics::kNoiseLike);

/// How each of the batch's images looks (data::odd_image_kinds), on the CPU; undefined when
/// the inputs are not a batch of images.
torch::Tensor image_looks(const torch::Tensor& inputs) {
  if (!inputs.defined() || inputs.dim() != 4 || inputs.size(0) == 0) return {};
  return data::odd_image_kinds(inputs).to(torch::kCPU).contiguous();
}

using spec::is_relu_family;

/// Fraction of units (channels of [N, C, H, W], features of [N, F]) never positive in the batch.
double dead_fraction(const torch::Tensor& out) {
  if (out.dim() < 2 || out.size(0) == 0) return 0;
  // One reduction: a unit's largest output over the batch (and positions) is ≤ 0 iff it is dead.
  const torch::Tensor peak = out.dim() == 4 ? out.amax({0, 2, 3}) : out.amax({0});
  return static_cast<double>(peak.le(0).sum().item<int64_t>()) / static_cast<double>(peak.numel());
}

double saturated_fraction(const std::string& kind, const torch::Tensor& out) {
  if (kind == "sigmoid")
    return (out.lt(0.01) | out.gt(0.99)).to(torch::kFloat64).mean().item<double>();
  if (kind == "tanh") return out.abs().gt(0.99).to(torch::kFloat64).mean().item<double>();
  return 0;
}

}  // namespace

TensorStats tensor_stats(const torch::Tensor& t) {
  TensorStats s;
  if (!t.defined() || t.numel() == 0) return s;
  {
    // Fast path, one device sync: four reductions stacked. Only when a value is not finite does
    // the slow path below separate the finite values.
    const torch::Tensor x = t.detach().reshape(-1).to(torch::kFloat32);
    // (std_mean is 5× slower than mean + std in libtorch 1.13; aminmax is one pass.)
    const auto [lo, hi] = torch::aminmax(x);
    const torch::Tensor sd = x.numel() > 1 ? x.std() : torch::zeros({}, x.options());
    const torch::Tensor packed =
        torch::stack({x.mean(), sd, lo, hi}).to(torch::kCPU).to(torch::kFloat64);
    const double* v = packed.data_ptr<double>();
    if (std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) && std::isfinite(v[3])) {
      s.mean = v[0];
      s.std = v[1];
      s.min = v[2];
      s.max = v[3];
      return s;
    }
  }
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
    : record_(std::move(setup)),
      layer_weights_(std::move(layer_weights)),
      params_(std::move(params)) {
  if (record_.probe_every < 1) record_.probe_every = 1;
  every_step_ = record_.custom_loop;
  record_.samples.resize(static_cast<size_t>(std::max<int64_t>(0, record_.train_size)));
}

bool Recorder::is_probe_step(int64_t step) const { return step % record_.probe_every == 0; }

torch::Tensor Recorder::flat_grads(torch::Tensor& buffer) const {
  std::vector<torch::Tensor> parts;
  parts.reserve(params_.size());
  for (const auto& p : params_) {
    parts.push_back(p.grad().defined() ? p.grad().detach().reshape(-1)
                                       : torch::zeros({p.numel()}, p.options()));
  }
  if (parts.empty()) return torch::zeros({0});
  if (!buffer.defined()) buffer = torch::empty({0}, parts.front().options());
  return at::cat_out(buffer, parts);
}

torch::Tensor Recorder::flat_params(torch::Tensor& buffer) const {
  std::vector<torch::Tensor> parts;
  parts.reserve(params_.size());
  for (const auto& p : params_) parts.push_back(p.detach().reshape(-1));
  if (parts.empty()) return torch::zeros({0});
  if (!buffer.defined()) buffer = torch::empty({0}, parts.front().options());
  return at::cat_out(buffer, parts);
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
  // Statistics from the first kActivationSamples samples: the scale of a layer's output does not
  // need the whole batch. Dead units do: a unit is dead only if no sample in the batch fires it.
  s.activation = tensor_stats(
      output.size(0) > kActivationSamples ? output.narrow(0, 0, kActivationSamples) : output);
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
  begin_step(step, epoch, lr);
  record_batch(step, inputs, labels, output, sample_loss, indices, loss, reference_loss);
}

namespace {

/// `output` as [B, K] float scores and `labels` as int64 labels, both detached, on the CPU and
/// contiguous, when both are defined and fit K = `k` > 0 classes; two undefined tensors else.
std::pair<torch::Tensor, torch::Tensor> cpu_scores(const torch::Tensor& output,
                                                   const torch::Tensor& labels, int64_t k) {
  if (!output.defined() || !labels.defined() || k <= 0) return {};
  torch::Tensor out = output.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  torch::Tensor y = labels.detach().to(torch::kCPU, torch::kInt64).contiguous();
  if (out.dim() != 2 || out.size(0) != y.size(0) || out.size(1) != k) return {};
  return {std::move(out), std::move(y)};
}

/// Per row of [B, K] float scores `out` (CPU, contiguous): score of the given label − best other
/// score (positive iff predicted correctly); 0 for a label outside [0, k).
std::vector<float> label_margins(const torch::Tensor& out, const torch::Tensor& y, int64_t k) {
  const int64_t b = out.size(0);
  const float* o = out.data_ptr<float>();
  const int64_t* yy = y.data_ptr<int64_t>();
  std::vector<float> margin(static_cast<size_t>(b), 0.0F);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t label = yy[i];
    if (label < 0 || label >= k) continue;
    float best_other = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < k; ++c) {
      if (c != label) best_other = std::max(best_other, o[i * k + c]);
    }
    margin[static_cast<size_t>(i)] = o[i * k + label] - best_other;
  }
  return margin;
}

/// Share of rows predicted correctly (a row with a label out of range counts as wrong).
double accuracy_of(const std::vector<float>& margin) {
  const auto correct = std::count_if(margin.begin(), margin.end(), [](float m) { return m > 0; });
  return margin.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(margin.size());
}

}  // namespace

void Recorder::on_eval_output(const torch::Tensor& labels, const torch::Tensor& output) {
  torch::NoGradGuard no_grad;
  const int64_t k = record_.num_classes;
  const auto [out, y] = cpu_scores(output, labels, k);
  if (record_.steps.empty() || !out.defined()) return;
  record_.steps.back().eval_batch_accuracy = accuracy_of(label_margins(out, y, k));
}

void Recorder::begin_step(int64_t step, int64_t epoch, double lr) {
  StepSample s;
  s.step = step;
  s.epoch = epoch;
  s.lr = lr;
  s.loss = std::numeric_limits<double>::quiet_NaN();
  record_.steps.push_back(std::move(s));
  batch_pending_ = true;
}

void Recorder::record_batch(int64_t step, const torch::Tensor& inputs, const torch::Tensor& labels,
                            const torch::Tensor& output, const torch::Tensor& sample_loss,
                            const torch::Tensor& indices, double loss, double reference_loss) {
  torch::NoGradGuard no_grad;
  StepSample& s = record_.steps.back();
  batch_pending_ = false;
  s.loss = loss;
  s.reference_loss = reference_loss;
  // Input statistics on dense steps, and whenever the loss is not finite (to name the input as
  // the origin); NaN elsewhere.
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (is_dense_step(step) || !std::isfinite(loss)) {
    s.input = tensor_stats(inputs);
  } else {
    s.input = TensorStats{kNaN, kNaN, kNaN, kNaN, 0.0};
  }
  const torch::Tensor looks = is_probe_step(step) ? image_looks(inputs) : torch::Tensor();
  s.odd_input_fraction = !is_probe_step(step) ? kNaN
                         : looks.defined()    ? looks.ne(0).to(torch::kFloat64).mean().item<double>()
                                              : 0.0;
  const int64_t k = record_.num_classes;
  const auto [out, y] = cpu_scores(output, labels, k);
  if (out.defined()) {
    // One pass over the [B, K] scores (small): accuracy, label histogram, per-sample margins
    // (score of the given label − best other score; positive iff predicted correctly).
    const int64_t b = out.size(0);
    const int64_t* yy = y.data_ptr<int64_t>();
    const std::vector<float> margin = label_margins(out, y, k);
    s.label_histogram.assign(static_cast<size_t>(k), 0);
    for (int64_t i = 0; i < b; ++i) {
      if (yy[i] >= 0 && yy[i] < k) ++s.label_histogram[static_cast<size_t>(yy[i])];
    }
    s.batch_accuracy = accuracy_of(margin);
    if (indices.defined() && !record_.samples.empty()) {
      const torch::Tensor losses =
          sample_loss.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      const torch::Tensor idx = indices.to(torch::kCPU, torch::kInt64).contiguous();
      const float* l = losses.data_ptr<float>();
      const int64_t* ix = idx.data_ptr<int64_t>();
      for (int64_t i = 0; i < idx.numel() && i < b; ++i) {
        if (ix[i] < 0 || ix[i] >= static_cast<int64_t>(record_.samples.size())) continue;
        SampleDynamics& d = record_.samples[static_cast<size_t>(ix[i])];
        const float m = margin[static_cast<size_t>(i)];
        if (++d.times_seen == 1) d.first_margin = m;
        d.last_loss = l[i];
        d.mean_margin += (m - d.mean_margin) / static_cast<float>(d.times_seen);
        if (d.first_learned_step < 0 && m > 0) d.first_learned_step = static_cast<int32_t>(step);
        if (looks.defined() && i < looks.numel()) d.look = looks.data_ptr<int8_t>()[i];
      }
    }
  }
  if (!record_.first_nonfinite && s.input.nonfinite_fraction > 0) {
    record_.first_nonfinite = NonFiniteOrigin{step, "input", false};
  } else if (record_.first_nonfinite && record_.first_nonfinite->step == step &&
             s.input.nonfinite_fraction > 0) {
    record_.first_nonfinite->layer = "input";  // the data was bad before any layer saw it
  }
  if (!record_.first_nonfinite && !std::isfinite(loss)) {
    record_.first_nonfinite = NonFiniteOrigin{step, "loss", false};
  } else if (record_.first_nonfinite && record_.first_nonfinite->step == step &&
             record_.first_nonfinite->in_backward && !std::isfinite(loss)) {
    // The gradients were read first (a pre-step hook): the loss was already not finite.
    record_.first_nonfinite = NonFiniteOrigin{step, "loss", false};
  }
}

bool Recorder::is_dense_step(int64_t step) const {
  return every_step_ || step < kDenseHead || is_probe_step(step);
}

void Recorder::on_gradients(int64_t step, double grad_norm) {
  torch::NoGradGuard no_grad;
  StepSample& s = record_.steps.back();
  const bool probe = is_probe_step(step);
  // The noise estimate pairs each probe step's gradient with the one just before it.
  const bool before_probe = is_probe_step(step + 1);
  const bool need_flat = every_step_ || probe || before_probe;
  torch::Tensor g;
  if (need_flat) {
    // The step before a probe keeps its gradient in its own buffer for the noise estimate.
    g = flat_grads(before_probe && !every_step_ ? noise_prev_ : grad_buffer_);
    if (!std::isfinite(grad_norm)) grad_norm = g.norm().item<double>();
  } else if (!std::isfinite(grad_norm)) {
    grad_norm = train::global_grad_norm(params_);
  }
  s.grad_norm = grad_norm;

  // Consecutive-gradient change: only a hand-written loop can forget zero_grad.
  s.grad_change_ratio = std::numeric_limits<double>::quiet_NaN();
  if (every_step_) {
    if (prev_grad_.defined() && prev_grad_.numel() == g.numel() && grad_norm > 0) {
      s.grad_change_ratio = torch::dist(g, prev_grad_).item<double>() / grad_norm;
    }
    prev_grad_ = g.clone();
  }

  // Gradient-noise scale (McCandlish et al.): E|g_B|² = |G|² + tr(Σ)/B, and for two independent
  // batches E[g_B · g_B'] = |G|². Averaged over the last kNoiseWindow probes.
  if (before_probe && std::isfinite(grad_norm)) {
    if (every_step_) noise_prev_ = g.clone();
    noise_prev_step_ = step;
  }
  if (probe && noise_prev_.defined() && noise_prev_step_ == step - 1 && std::isfinite(grad_norm)) {
    noise_sq_.push_back(grad_norm * grad_norm);
    noise_dot_.push_back(torch::dot(g, noise_prev_).item<double>());
    if (noise_sq_.size() > kNoiseWindow) {
      noise_sq_.erase(noise_sq_.begin());
      noise_dot_.erase(noise_dot_.begin());
    }
    double sq = 0, dot = 0;
    for (size_t i = 0; i < noise_sq_.size(); ++i) {
      sq += noise_sq_[i];
      dot += noise_dot_[i];
    }
    record_.noise.push_back(NoiseSample{step, sq / noise_sq_.size(), dot / noise_dot_.size()});
  }

  if (probe) {
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
  }
  // Backward origin of non-finite values: the loss was finite but a gradient is not.
  // (A pending batch: the gradients are read before the loss is known; record_batch corrects.)
  if (!record_.first_nonfinite && !std::isfinite(grad_norm) &&
      (batch_pending_ || std::isfinite(s.loss))) {
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
  if (is_dense_step(step)) flat_params(params_before_);
}

void Recorder::on_update(int64_t step) {
  torch::NoGradGuard no_grad;
  StepSample& s = record_.steps.back();
  if (is_dense_step(step)) {
    const torch::Tensor after = flat_params(params_after_);
    if (params_before_.defined() && params_before_.numel() == after.numel()) {
      s.update_norm = torch::dist(after, params_before_).item<double>();
    }
    s.weight_norm = after.norm().item<double>();
  } else {
    s.update_norm = s.weight_norm = std::numeric_limits<double>::quiet_NaN();
  }
  if (probing_ && pending_.step == step) {
    for (size_t i = 0; i < layer_weights_before_.size(); ++i) {
      if (!layer_weights_before_[i].defined()) continue;
      LayerSample& ls = pending_.layers[i];
      const double delta =
          torch::dist(layer_weights_[i].detach(), layer_weights_before_[i]).item<double>();
      ls.update_ratio = ls.weight_norm > 0 ? delta / ls.weight_norm : 0.0;
    }
    record_.probes.push_back(std::move(pending_));
    probing_ = false;
  }
}

void Recorder::on_epoch(const EpochSample& epoch) { record_.epochs.push_back(epoch); }

}  // namespace lossdoctor::probe
