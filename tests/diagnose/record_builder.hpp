#pragma once
// Synthetic RunRecords for detector tests: a healthy run by default (every series filled with
// plausible, deterministic noise), plus the healthy scenarios no detector may fire on.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::test {

struct RecordBuilder {
  int64_t steps = 400;
  int64_t num_classes = 10;
  int64_t batch_size = 64;
  int64_t probe_every = 10;
  int64_t steps_per_epoch = 0;  ///< > 0: one EpochSample per epoch (val = train + 0.05)
  uint64_t seed = 42;
  std::string loss_type = "cross_entropy";
  /// Noise-free loss curve and the standard deviation of its Gaussian noise, per step.
  std::function<double(int64_t)> loss = [](int64_t t) {
    return 2.3 * std::exp(-static_cast<double>(t) / 150.0) + 0.3;
  };
  std::function<double(int64_t)> noise = [](int64_t) { return 0.15; };
  std::function<double(int64_t)> lr = [](int64_t) { return 0.01; };

  RecordBuilder& with_steps(int64_t n) {
    steps = n;
    return *this;
  }
  RecordBuilder& with_loss(std::function<double(int64_t)> f, double sd) {
    loss = std::move(f);
    noise = [sd](int64_t) { return sd; };
    return *this;
  }

  RunRecord build() const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> gauss(0.0, 1.0);
    std::uniform_int_distribution<int64_t> label(0, num_classes - 1);
    auto lognormal = [&](double sigma) { return std::exp(sigma * gauss(rng)); };

    RunRecord r;
    r.spec_name = "synthetic";
    r.num_classes = num_classes;
    r.batch_size = batch_size;
    r.train_size = steps_per_epoch > 0 ? steps_per_epoch * batch_size : 12000;
    r.optimizer = "sgd";
    r.base_lr = lr(0);
    r.loss = loss_type;
    r.probe_every = probe_every;
    const std::vector<std::pair<std::string, bool>> kinds = {
        {"conv2d", true}, {"batchnorm", true}, {"relu", false},    {"maxpool", false},
        {"conv2d", true}, {"relu", false},     {"flatten", false}, {"dense", true}};
    for (size_t i = 0; i < kinds.size(); ++i) {
      LayerDescription d;
      d.name = "layers[" + std::to_string(i) + "]." + kinds[i].first;
      d.kind = kinds[i].first;
      d.has_weights = kinds[i].second;
      d.fan_in = d.kind == "conv2d" ? 9 : (d.kind == "dense" ? 1568 : 0);
      r.layers.push_back(d);
    }

    double epoch_sum = 0;
    int64_t epoch_n = 0;
    for (int64_t t = 0; t < steps; ++t) {
      StepSample s;
      s.step = t;
      s.epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
      s.loss = std::max(0.01, loss(t) + noise(t) * gauss(rng));
      s.lr = lr(t);
      s.grad_norm = 1.0 * lognormal(0.2);
      s.update_norm = s.lr * s.grad_norm;
      s.weight_norm = 20.0 + 0.002 * static_cast<double>(t);
      s.batch_accuracy = std::clamp(1.0 - s.loss / 2.5, 0.0, 1.0);
      s.label_histogram.assign(static_cast<size_t>(num_classes), 0);
      for (int64_t i = 0; i < batch_size; ++i) ++s.label_histogram[static_cast<size_t>(label(rng))];
      s.input = {0.0, 1.0, -0.8, 2.8, 0.0};
      r.steps.push_back(s);

      epoch_sum += s.loss;
      ++epoch_n;
      if (steps_per_epoch > 0 && (t + 1) % steps_per_epoch == 0) {
        EpochSample e;
        e.epoch = s.epoch;
        e.step = t;
        e.train_loss = epoch_sum / static_cast<double>(epoch_n);
        e.train_accuracy = std::clamp(1.0 - e.train_loss / 2.5, 0.0, 1.0);
        e.val_loss = e.train_loss + 0.05;
        e.val_accuracy = std::clamp(1.0 - e.val_loss / 2.5, 0.0, 1.0);
        r.epochs.push_back(e);
        epoch_sum = 0;
        epoch_n = 0;
      }

      if (t % probe_every == 0) {
        LayerProbe p;
        p.step = t;
        for (const auto& d : r.layers) {
          LayerSample l;
          l.has_weights = d.has_weights;
          l.activation = {0.1, 1.0, -3.0, 3.0, 0.0};
          if (d.has_weights) {
            l.weight_norm = d.kind == "batchnorm" ? 5.6 : 8.0;
            l.grad_norm = 0.4 * lognormal(0.3);
            l.update_ratio = 1e-3 * lognormal(0.3);
          }
          if (d.kind == "relu") l.dead_fraction = 0.05 * lognormal(0.3);
          p.layers.push_back(l);
        }
        r.probes.push_back(p);

        NoiseSample n;
        n.step = t;
        n.sq_mean_grad_norm = 1.0;
        n.mean_sq_grad_norm = 1.0 + 3.0 * lognormal(0.3);
        r.noise.push_back(n);
      }
    }

    SplitStats train, val;
    train.channel_mean = {0.01};
    train.channel_std = {0.99};
    train.min = -0.81;
    train.max = 2.02;
    train.samples = r.train_size;
    val.channel_mean = {0.03};
    val.channel_std = {1.02};
    val.min = -0.81;
    val.max = 2.02;
    val.samples = 2000;
    r.train_stats = train;
    r.val_stats = val;
    return r;
  }
};

/// (a) noisy SGD with a falling trend: 2.3·exp(−t/150) + 0.3 + N(0, 0.15), 400 steps.
inline RunRecord healthy_falling(uint64_t seed = 42) {
  RecordBuilder b;
  b.seed = seed;
  return b.build();
}

/// (b) staircase schedule: lr ×0.1 at step 200; the loss drops sharply there, then flattens.
inline RunRecord healthy_staircase(uint64_t seed = 42) {
  RecordBuilder b;
  b.seed = seed;
  b.lr = [](int64_t t) { return t < 200 ? 0.1 : 0.01; };
  b.loss = [](int64_t t) {
    const double x = static_cast<double>(t);
    if (t < 200) return 1.6 * std::exp(-x / 60.0) + 0.7;
    return 0.35 + 0.37 * std::exp(-(x - 200.0) / 8.0);
  };
  b.noise = [](int64_t t) { return t < 200 ? 0.12 : 0.05; };
  return b.build();
}

/// (c) label smoothing 0.1: the loss levels off near 0.5, not near 0.
inline RunRecord healthy_label_smoothing(uint64_t seed = 42) {
  RecordBuilder b;
  b.seed = seed;
  b.with_loss([](int64_t t) { return 1.8 * std::exp(-static_cast<double>(t) / 60.0) + 0.5; }, 0.08);
  return b.build();
}

/// (d) heavy augmentation: a noisier loss that still falls slowly, 2.3 → 1.2 over 400 steps.
inline RunRecord healthy_heavy_augmentation(uint64_t seed = 42) {
  RecordBuilder b;
  b.seed = seed;
  b.with_loss(
      [](int64_t t) {
        const double f = (1 - std::exp(-static_cast<double>(t) / 250.0)) / (1 - std::exp(-1.6));
        return 2.3 - 1.1 * f;
      },
      0.3);
  return b.build();
}

/// (e) a long run that overfits: training loss falls, validation loss rises after epoch 4.
inline RunRecord healthy_overfitting(uint64_t seed = 42) {
  RecordBuilder b;
  b.seed = seed;
  b.steps = 1000;
  b.steps_per_epoch = 100;
  b.loss = [](int64_t t) { return 2.2 * std::exp(-static_cast<double>(t) / 200.0) + 0.05; };
  b.noise = [](int64_t t) { return 0.03 + 0.12 * std::exp(-static_cast<double>(t) / 200.0); };
  RunRecord r = b.build();
  const double val[] = {1.6, 1.1, 0.9, 0.8, 0.78, 0.82, 0.88, 0.95, 1.05, 1.15};
  for (size_t i = 0; i < r.epochs.size() && i < 10; ++i) {
    r.epochs[i].val_loss = val[i];
    r.epochs[i].val_accuracy = 0.9 - 0.05 * val[i];
  }
  return r;
}

/// Ids of the symptoms a record yields (in detect order).
inline std::vector<std::string> symptom_ids_of(const std::vector<Symptom>& symptoms) {
  std::vector<std::string> ids;
  for (const auto& s : symptoms) ids.push_back(s.id);
  return ids;
}

}  // namespace lossdoctor::test
