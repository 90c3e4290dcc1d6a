#include "lossdoctor/probe/trainer_probe.hpp"

#include <algorithm>

#include <cmath>
#include <limits>

#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/model/network.hpp"
#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/train/optimizer.hpp"

namespace lossdoctor::probe {
namespace {

constexpr int64_t kStatsSamples =
    2048;  ///< training images drawn through the loader for split stats

}  // namespace

SplitStats split_stats(const torch::Tensor& images) {
  SplitStats s;
  if (!images.defined() || images.dim() != 4 || images.size(0) == 0) return s;
  torch::NoGradGuard no_grad;
  const torch::Tensor x = images.to(torch::kFloat64);
  s.samples = x.size(0);
  const data::ChannelMoments moments = data::finite_channel_moments(x);
  const torch::Tensor& finite = moments.finite;
  const torch::Tensor& mean = moments.mean;
  const torch::Tensor& std = moments.std;
  for (int64_t c = 0; c < mean.size(0); ++c) {
    s.channel_mean.push_back(mean[c].item<double>());
    s.channel_std.push_back(std[c].item<double>());
  }
  const torch::Tensor v = x.masked_select(finite);
  if (v.numel() > 0) {
    s.min = v.min().item<double>();
    s.max = v.max().item<double>();
  }
  return s;
}

TrainerProbe::TrainerProbe(train::Trainer& trainer) {
  const spec::Spec& spec = trainer.spec();
  RunRecord setup;
  setup.spec_name = spec.name;
  setup.num_classes = trainer.dataset().num_classes;
  setup.batch_size = spec.batch_size;
  setup.train_size = trainer.dataset().train.size();
  setup.optimizer = train::optimizer_kind_name(spec.optimizer.kind);
  setup.base_lr = spec.optimizer.lr;
  setup.loss = train::loss_kind_name(spec.loss.kind);
  setup.from_logits = spec.loss.from_logits;
  setup.probe_every = spec.diagnose.probe_every;
  setup.clip_grad_norm = spec.clip_grad_norm.value_or(0.0);
  setup.train_augmentation =
      std::any_of(spec.data.train_transforms.begin(), spec.data.train_transforms.end(),
                  [](const spec::TransformSpec& t) { return t.is_augmentation(); });

  std::vector<torch::Tensor> weights;
  const auto layers = trainer.network()->all_layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const model::Layer& l = *layers[i];
    LayerDescription d;
    d.name = l.name;
    d.kind = model::layer_kind_name(l.kind);
    d.output_shape = l.output_shape;
    d.has_weights = l.weight.defined();
    if (d.has_weights) d.fan_in = l.weight[0].numel();
    has_dropout_ |= d.kind == "dropout";
    setup.layers.push_back(d);
    weights.push_back(l.weight);
    layer_index_[&l] = i;
  }

  // Split statistics after preprocessing: training images through the loader (augmentations
  // included), validation images as prepared for evaluation.
  {
    torch::NoGradGuard no_grad;
    const auto& loader = trainer.train_loader();
    std::vector<torch::Tensor> batches;
    int64_t taken = 0;
    for (int64_t b = 0; b < loader.batches_per_epoch() && taken < kStatsSamples; ++b) {
      batches.push_back(loader.batch(0, b).images);
      taken += batches.back().size(0);
    }
    if (!batches.empty()) setup.train_stats = split_stats(torch::cat(batches));
    if (trainer.dataset().val.size() > 0) {
      const torch::Tensor val = trainer.prepared_val_images();
      setup.val_stats = split_stats(val.slice(0, 0, std::min<int64_t>(val.size(0), kStatsSamples)));
    }
  }
  recorder_ = std::make_unique<Recorder>(std::move(setup), std::move(weights),
                                         trainer.network()->parameters());
}

void TrainerProbe::before_forward(train::Trainer& trainer, int64_t step) {
  current_step_ = step;
  if (!recorder_->is_probe_step(step)) return;
  trainer.network()->set_observer([this](const model::Layer& layer, const torch::Tensor& out) {
    const auto it = layer_index_.find(&layer);
    if (it != layer_index_.end()) recorder_->on_activation(it->second, out, current_step_);
  });
}

void TrainerProbe::after_backward(train::Trainer& trainer, const train::StepView& view) {
  trainer.network()->set_observer(nullptr);  // evaluation passes must not be recorded
  recorder_->on_batch(view.step, view.epoch, view.batch->images, view.batch->labels, *view.output,
                      *view.sample_loss, view.batch->indices, view.loss, view.lr,
                      std::numeric_limits<double>::quiet_NaN());
  if (has_dropout_ && recorder_->is_probe_step(view.step) && view.batch->images.defined()) {
    // Dropout depresses training-mode accuracy (label_noise compares it with validation's):
    // the same batch, same weights, in eval mode. Eval-mode dropout and batch norm draw no
    // random numbers and update no statistics, so the run itself is unchanged.
    torch::NoGradGuard no_grad;
    auto& net = trainer.network();
    net->eval();
    const torch::Tensor eval_output = net->forward(view.batch->images);
    net->train();
    recorder_->on_eval_output(view.batch->labels, eval_output);
  }
  recorder_->on_gradients(view.step, view.grad_norm);
  if (view.ranks != nullptr) {
    RunRecord& r = recorder_->record();
    if (!r.distributed) {
      const spec::Spec& spec = trainer.spec();
      DistributedRecord d;
      d.world_size = static_cast<int64_t>(view.ranks->size());
      d.global_batch_size = spec.batch_size * d.world_size;
      d.steps_per_epoch = trainer.train_loader().batches_per_epoch();
      d.lr_scale = trainer.lr_scale();
      d.lr_scaling = spec::lr_scaling_name(spec.optimizer.lr_scaling);
      d.warmup_steps = spec.schedule.warmup_steps;
      r.distributed = std::move(d);
    }
    r.distributed->steps.push_back({view.step, view.epoch, view.batch_index, *view.ranks});
  }
}

void TrainerProbe::after_step(train::Trainer&, const train::StepView& view) {
  recorder_->on_update(view.step);
  if (view.checksums != nullptr && recorder_->record().distributed) {
    recorder_->record().distributed->checksums.push_back({view.step, *view.checksums});
  }
}

void TrainerProbe::on_epoch_end(train::Trainer&, const train::EpochRecord& e) {
  recorder_->on_epoch(
      {e.epoch, e.step, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy});
}

}  // namespace lossdoctor::probe
