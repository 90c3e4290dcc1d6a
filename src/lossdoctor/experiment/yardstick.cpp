#include "lossdoctor/experiment/yardstick.hpp"

#include <cmath>
#include <stdexcept>

#include "lossdoctor/train/loss.hpp"
#include "lossdoctor/util/clock.hpp"

namespace lossdoctor::experiment {
namespace {

constexpr double kConstantT = 1e9;  ///< t of a constant nonzero difference

double log_or_nan(double v) { return std::isfinite(v) && v > 0 ? std::log(v) : NAN; }

}  // namespace

Yardstick::Yardstick(int64_t eval_every, int64_t size) : eval_every_(eval_every), size_(size) {
  if (eval_every < 1) throw std::invalid_argument("yardstick: eval_every must be ≥ 1");
  if (size < 1) throw std::invalid_argument("yardstick: size must be ≥ 1");
}

void Yardstick::before_forward(train::Trainer& trainer, int64_t step) {
  if (step == 0) measure(trainer, 0);
}

void Yardstick::after_step(train::Trainer& trainer, const train::StepView& view) {
  train_loss_.push_back(view.loss);
  const int64_t done = view.step + 1;
  if (done % eval_every_ == 0 || done == trainer.total_steps()) measure(trainer, done);
}

void Yardstick::measure(train::Trainer& trainer, int64_t steps_done) {
  if (!points_.empty() && points_.back().step == steps_done) return;
  const torch::Tensor& images = trainer.prepared_val_images();
  if (!images.defined() || images.size(0) == 0) return;
  const auto start = Clock::now();
  const int64_t n = images.size(0), m = std::min(n, size_);
  // Evenly spread over the split: a class-ordered validation file still gives every class.
  const torch::Tensor index =
      torch::linspace(0, static_cast<double>(n - 1), m, torch::kFloat64).round().to(torch::kInt64);
  const torch::Tensor x = images.index_select(0, index).to(trainer.device());
  const torch::Tensor y = trainer.dataset().val.labels.index_select(0, index).to(trainer.device());
  YardstickPoint p;
  p.step = steps_done;
  p.images = m;
  {
    torch::NoGradGuard no_grad;
    auto& net = trainer.network();
    net->eval();
    const torch::Tensor out = net->forward(x);
    net->train();
    p.loss = train::per_sample_loss(trainer.spec().loss, out, y).mean().item<double>();
    const torch::Tensor correct = out.argmax(1).eq(y).to(torch::kFloat64).cpu();
    p.accuracy = correct.mean().item<double>();
    const auto right = correct.accessor<double, 1>();
    p.correct.reserve(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) p.correct.push_back(right[i] > 0.5);
    // Per class: what a fix aimed at some classes (oversampling the rare ones) is judged on.
    const int64_t k = trainer.dataset().num_classes;
    if (k >= 2) {
      const torch::Tensor labels = y.cpu().clamp(0, k - 1);
      const torch::Tensor hits = torch::zeros({k}, torch::kFloat64).index_add_(0, labels, correct);
      const torch::Tensor seen =
          torch::zeros({k}, torch::kFloat64).index_add_(0, labels, torch::ones_like(correct));
      const auto h = hits.accessor<double, 1>();
      const auto n = seen.accessor<double, 1>();
      for (int64_t c = 0; c < k; ++c) p.class_accuracy.push_back(n[c] > 0 ? h[c] / n[c] : NAN);
    }
  }
  points_.push_back(p);
  seconds_ += seconds_since(start);
}

std::pair<double, double> mean_and_t(const std::vector<double>& d) {
  const size_t n = d.size();
  if (n == 0) return {0.0, 0.0};
  double mean = 0;
  for (double v : d) mean += v;
  mean /= static_cast<double>(n);
  if (n < 2) return {mean, 0.0};
  double ss = 0;
  for (double v : d) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  if (sd <= 1e-12 * std::max(1.0, std::abs(mean))) {
    return {mean, mean == 0 ? 0.0 : std::copysign(kConstantT, mean)};
  }
  return {mean, mean / (sd / std::sqrt(static_cast<double>(n)))};
}

namespace {

/// Collects the paired points of one comparison: the first and last pair's values and every
/// finite difference; `finish` fills pairs, mean difference and t.
struct PairAccumulator {
  PairedComparison c;
  std::vector<double> diffs;

  explicit PairAccumulator(const char* measure) { c.measure = measure; }
  void add(double base_value, double arm_value, double diff) {
    if (!std::isfinite(diff)) return;
    if (diffs.empty()) c.base_start = base_value, c.arm_start = arm_value;
    c.base_end = base_value;
    c.arm_end = arm_value;
    diffs.push_back(diff);
  }
  PairedComparison finish() {
    c.pairs = static_cast<int>(diffs.size());
    std::tie(c.mean_diff, c.t) = mean_and_t(diffs);
    return c;
  }
};

}  // namespace

PairedComparison compare_train_loss(const std::vector<double>& base, const std::vector<double>& arm,
                                    int64_t block) {
  if (block < 1) throw std::invalid_argument("compare_train_loss: block must be ≥ 1");
  PairAccumulator pairs("train_loss");
  const size_t n = std::min(base.size(), arm.size());
  const auto block_mean = [&](const std::vector<double>& s, size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) {
      if (!std::isfinite(s[i])) return std::nan("");
      sum += s[i];
    }
    return sum / static_cast<double>(to - from);
  };
  for (size_t from = 0; from + static_cast<size_t>(block) <= n;
       from += static_cast<size_t>(block)) {
    const size_t to = from + static_cast<size_t>(block);
    const double b = block_mean(base, from, to), a = block_mean(arm, from, to);
    pairs.add(b, a, log_or_nan(b) - log_or_nan(a));
  }
  PairedComparison c = pairs.finish();
  c.effect = c.pairs > 0 ? 1.0 - std::exp(-c.mean_diff) : 0.0;
  return c;
}

namespace {

/// Calls visit(base point, arm point) for every step both series measured (step 0 left out: it
/// measures the initial weights), in order.
template <typename Visit>
void for_each_common_point(const std::vector<YardstickPoint>& base,
                           const std::vector<YardstickPoint>& arm, Visit visit) {
  size_t j = 0;
  for (const auto& b : base) {
    if (b.step == 0) continue;
    while (j < arm.size() && arm[j].step < b.step) ++j;
    if (j == arm.size()) break;
    if (arm[j].step == b.step) visit(b, arm[j]);
  }
}

template <typename Diff>
PairedComparison compare_points(const std::vector<YardstickPoint>& base,
                                const std::vector<YardstickPoint>& arm, const char* measure,
                                Diff diff) {
  PairAccumulator pairs(measure);
  for_each_common_point(base, arm, [&](const YardstickPoint& b, const YardstickPoint& a) {
    double bv = 0, av = 0;
    const double d = diff(b, a, bv, av);
    pairs.add(bv, av, d);
  });
  return pairs.finish();
}

}  // namespace

PairedComparison compare_accuracy(const std::vector<YardstickPoint>& base,
                                  const std::vector<YardstickPoint>& arm) {
  PairedComparison c =
      compare_points(base, arm, "val_accuracy",
                     [](const YardstickPoint& b, const YardstickPoint& a, double& bv, double& av) {
                       bv = b.accuracy;
                       av = a.accuracy;
                       return a.accuracy - b.accuracy;
                     });
  c.effect = c.mean_diff;
  return c;
}

PairedComparison compare_val_loss(const std::vector<YardstickPoint>& base,
                                  const std::vector<YardstickPoint>& arm) {
  PairedComparison c =
      compare_points(base, arm, "val_loss",
                     [](const YardstickPoint& b, const YardstickPoint& a, double& bv, double& av) {
                       bv = b.loss;
                       av = a.loss;
                       return log_or_nan(b.loss) - log_or_nan(a.loss);
                     });
  c.effect = c.pairs > 0 ? 1.0 - std::exp(-c.mean_diff) : 0.0;
  return c;
}

PairedComparison compare_accuracy_at_end(const std::vector<YardstickPoint>& base,
                                         const std::vector<YardstickPoint>& arm) {
  PairedComparison c;
  c.measure = "val_accuracy_at_end";
  const YardstickPoint *first_b = nullptr, *first_a = nullptr, *last_b = nullptr, *last_a = nullptr;
  for_each_common_point(base, arm, [&](const YardstickPoint& b, const YardstickPoint& a) {
    if (!first_b) first_b = &b, first_a = &a;
    last_b = &b, last_a = &a;
  });
  if (!last_b || last_b->images < 1 || last_b->images != last_a->images) return c;
  c.pairs = static_cast<int>(last_b->images);
  c.mean_diff = c.effect = last_a->accuracy - last_b->accuracy;
  const auto paired = static_cast<size_t>(last_b->images);
  if (last_b->correct.size() == paired && last_a->correct.size() == paired) {
    int64_t arm_only = 0, base_only = 0;  // images one run gets right and the other wrong
    for (size_t i = 0; i < paired; ++i) {
      arm_only += last_a->correct[i] && !last_b->correct[i];
      base_only += last_b->correct[i] && !last_a->correct[i];
    }
    c.images_differing = arm_only + base_only;
    const auto differ = static_cast<double>(arm_only + base_only);
    c.t = differ > 0 ? static_cast<double>(arm_only - base_only) / std::sqrt(differ) : 0.0;
  } else {
    const auto n = static_cast<double>(paired);
    const auto shrunk = [n](double p) { return (p * n + 0.5) / (n + 1.0); };
    const double pb = shrunk(last_b->accuracy), pa = shrunk(last_a->accuracy);
    c.t = c.mean_diff / std::sqrt((pb * (1 - pb) + pa * (1 - pa)) / n);
  }
  c.base_start = first_b->accuracy;
  c.arm_start = first_a->accuracy;
  c.base_end = last_b->accuracy;
  c.arm_end = last_a->accuracy;
  return c;
}

PairedComparison compare_class_accuracy(const std::vector<YardstickPoint>& base,
                                        const std::vector<YardstickPoint>& arm,
                                        const std::vector<int64_t>& classes) {
  // Over the classes measured in both points, so both means are over the same classes.
  const auto value = [](const YardstickPoint& p, int64_t c) {
    return c >= 0 && c < static_cast<int64_t>(p.class_accuracy.size())
               ? p.class_accuracy[static_cast<size_t>(c)]
               : NAN;
  };
  PairedComparison c =
      compare_points(base, arm, "rare_class_accuracy",
                     [&](const YardstickPoint& b, const YardstickPoint& a, double& bv, double& av) {
                       double sb = 0, sa = 0;
                       int n = 0;
                       for (int64_t k : classes) {
                         const double vb = value(b, k), va = value(a, k);
                         if (std::isfinite(vb) && std::isfinite(va)) sb += vb, sa += va, ++n;
                       }
                       bv = n > 0 ? sb / n : NAN;
                       av = n > 0 ? sa / n : NAN;
                       return av - bv;
                     });
  c.effect = c.mean_diff;
  return c;
}

int64_t nonfinite_step(const std::vector<double>& train_loss) {
  return unusable_step(train_loss, 0);
}

int64_t unusable_step(const std::vector<double>& train_loss, double blowup_factor) {
  for (size_t i = 0; i < train_loss.size(); ++i) {
    const double v = train_loss[i];
    if (!std::isfinite(v)) return static_cast<int64_t>(i);
    // Step 0 is finite here: the loop returned at it otherwise.
    if (blowup_factor > 0 && std::abs(v) > blowup_factor * std::abs(train_loss[0]) &&
        train_loss[0] != 0)
      return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace lossdoctor::experiment
