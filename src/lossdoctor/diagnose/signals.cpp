#include "lossdoctor/diagnose/signals.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return kNaN;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

void FirstSight::add(const SampleDynamics& d) {
  if (d.look == SampleDynamics::kBroken || !std::isfinite(d.first_margin)) return;
  ++judged;
  right += d.first_margin > 0;
}

double FirstSight::accuracy() const {
  return judged >= kMinLookGroup ? static_cast<double>(right) / static_cast<double>(judged)
                                 : std::numeric_limits<double>::quiet_NaN();
}

RecordSignals read_signals(const RunRecord& r) {
  RecordSignals s;
  const auto& steps = r.steps;
  s.steps = static_cast<int64_t>(steps.size());
  s.chance_loss = (r.loss == "cross_entropy" || r.loss == "nll") && r.num_classes > 1
                      ? std::log(static_cast<double>(r.num_classes))
                      : kNaN;
  for (const auto& l : r.layers) {
    if (l.has_weights) ++s.weight_layers;
    if (l.kind == "batchnorm") s.has_batchnorm = true;
    if (spec::is_relu_family(l.kind)) ++s.relu_layers;
    if (spec::is_saturating(l.kind)) ++s.saturating_layers;
    if (l.kind == "sigmoid") ++s.sigmoid_layers;
  }
  for (const auto& p : r.probes) {
    for (size_t i = 0; i < p.layers.size() && i < r.layers.size(); ++i) {
      if (spec::is_saturating(r.layers[i].kind) && std::isfinite(p.layers[i].saturated_fraction))
        s.peak_saturated_fraction =
            std::max(s.peak_saturated_fraction, p.layers[i].saturated_fraction);
    }
  }
  if (steps.empty()) return s;

  std::vector<double> finite;
  for (const auto& st : steps) {
    if (std::isfinite(st.loss)) finite.push_back(st.loss);
  }
  s.initial_loss = finite.empty()
                       ? kNaN
                       : median(std::vector<double>(
                             finite.begin(), finite.begin() + std::min<size_t>(5, finite.size())));
  s.ended_nonfinite = !std::isfinite(steps.back().loss);
  const size_t tail = std::max<size_t>(5, steps.size() / 10);
  std::vector<double> last;
  for (size_t i = steps.size() > tail ? steps.size() - tail : 0; i < steps.size(); ++i)
    last.push_back(steps[i].loss);
  s.final_loss = s.ended_nonfinite ? std::numeric_limits<double>::infinity() : median(last);
  s.best_loss = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i + 10 <= finite.size(); ++i) {
    s.best_loss = std::min(
        s.best_loss, median(std::vector<double>(finite.begin() + i, finite.begin() + i + 10)));
  }
  if (!std::isfinite(s.best_loss) && !finite.empty())
    s.best_loss = *std::min_element(finite.begin(), finite.end());

  std::vector<double> means, stds, maxes, grads, changes;
  std::vector<int64_t> classes(static_cast<size_t>(std::max<int64_t>(r.num_classes, 0)), 0);
  double odd = 0;
  int64_t odd_steps = 0, update_steps = 0;
  int64_t zero_updates = 0, negated = 0, with_reference = 0;
  for (const auto& st : steps) {
    means.push_back(st.input.mean);
    stds.push_back(st.input.std);
    maxes.push_back(std::max(std::abs(st.input.min), std::abs(st.input.max)));
    if (std::isfinite(st.odd_input_fraction)) {
      odd += st.odd_input_fraction;
      ++odd_steps;
    }
    if (std::isfinite(st.update_norm)) ++update_steps;
    for (size_t c = 0; c < st.label_histogram.size() && c < classes.size(); ++c)
      classes[c] += st.label_histogram[c];
    if (st.update_norm == 0 && st.grad_norm > 0 && std::isfinite(st.grad_norm)) ++zero_updates;
    // Early window: once a run blows up, fresh gradients dwarf any accumulated ones.
    if (st.step >= 5 && st.step < 60) changes.push_back(st.grad_change_ratio);
    grads.push_back(std::isfinite(st.grad_norm) ? st.grad_norm : kNaN);
    if (std::isfinite(st.reference_loss)) {
      ++with_reference;
      if (std::abs(st.loss + st.reference_loss) < 1e-3 * (std::abs(st.reference_loss) + 1e-6) &&
          std::abs(st.reference_loss) > 1e-6) {
        ++negated;
      }
    }
  }
  s.input_mean = median(means);
  s.input_std = median(stds);
  s.input_max_abs = median(maxes);
  s.odd_input_fraction = odd_steps > 0 ? odd / static_cast<double>(odd_steps) : 0.0;
  for (int64_t c : classes) s.labels_counted += c;
  if (!classes.empty()) {
    const auto [mn, mx] = std::minmax_element(classes.begin(), classes.end());
    s.max_class_ratio = *mn > 0 ? static_cast<double>(*mx) / static_cast<double>(*mn)
                                : (*mx > 0 ? std::numeric_limits<double>::infinity() : 1.0);
  }
  s.zero_update_fraction =
      update_steps > 0 ? static_cast<double>(zero_updates) / static_cast<double>(update_steps)
                       : 0.0;
  s.median_grad_change_ratio = median(changes);
  s.negated_loss_fraction =
      with_reference > 0 ? static_cast<double>(negated) / with_reference : 0.0;
  const size_t q = std::max<size_t>(1, grads.size() / 4);
  const double g_first =
      median(std::vector<double>(grads.begin(), grads.begin() + static_cast<std::ptrdiff_t>(q)));
  const double g_last =
      median(std::vector<double>(grads.end() - static_cast<std::ptrdiff_t>(q), grads.end()));
  s.grad_norm_growth = g_first > 0 ? g_last / g_first : 1.0;

  // Per-sample dynamics: confidently "wrong" samples (the model prefers another class).
  if (std::isfinite(s.chance_loss)) {
    int64_t seen = 0, high = 0, contradicted = 0;
    for (const auto& d : r.samples) {
      if (d.times_seen < kRepeatSightings || !std::isfinite(d.last_loss)) continue;
      ++seen;
      if (d.last_loss > s.chance_loss + 0.7) ++high;
      if (d.mean_margin < -2.0f) ++contradicted;
    }
    s.high_loss_fraction = seen > 0 ? static_cast<double>(high) / seen : 0.0;
    s.contradicted_fraction = seen > 0 ? static_cast<double>(contradicted) / seen : 0.0;
  }
  {
    RecordSignals::ImageLooks& lk = s.looks;
    for (const auto& d : r.samples) {
      if (d.look == SampleDynamics::kUnchecked) continue;
      const bool noise_like = d.look == SampleDynamics::kNoiseLike;
      ++lk.checked;
      lk.broken += d.look == SampleDynamics::kBroken;
      lk.noise_like += noise_like;
      (noise_like ? lk.noise_like_first : lk.clean_first).add(d);
    }
    if (r.num_classes > 0) lk.chance = 1.0 / static_cast<double>(r.num_classes);
    lk.split_shares = r.noise_like_shares;
  }
  if (finite.size() >= 40) {
    const size_t q = finite.size() / 4;
    const double third =
        median(std::vector<double>(finite.begin() + 2 * q, finite.begin() + 3 * q));
    const double fourth = median(std::vector<double>(finite.begin() + 3 * q, finite.end()));
    s.late_improvement = third > 0 ? (third - fourth) / third : 0.0;
  }

  s.lr_first = steps.front().lr;
  s.lr_last = steps.back().lr;
  s.lr_max = 0;
  for (const auto& st : steps) s.lr_max = std::max(s.lr_max, st.lr);
  const size_t late = std::max<size_t>(1, steps.size() / 5);
  double acc = 0, eval_acc = 0;
  int64_t eval_n = 0;  // eval-mode accuracy is measured on probe steps only
  for (size_t i = steps.size() - late; i < steps.size(); ++i) {
    acc += steps[i].batch_accuracy;
    if (!std::isfinite(steps[i].eval_batch_accuracy)) continue;
    eval_acc += steps[i].eval_batch_accuracy;
    ++eval_n;
  }
  s.late_train_accuracy = acc / static_cast<double>(late);
  if (eval_n > 0) s.late_eval_train_accuracy = eval_acc / static_cast<double>(eval_n);
  if (!r.epochs.empty()) {
    s.val_accuracy = r.epochs.back().val_accuracy;
    s.val_loss = r.epochs.back().val_loss;
  }
  // Weight norms are measured on some steps only (NaN elsewhere): first and last measured.
  double w0 = NAN, w1 = NAN;
  for (const auto& st : steps) {
    if (!std::isfinite(st.weight_norm)) continue;
    if (std::isnan(w0)) w0 = st.weight_norm;
    w1 = st.weight_norm;
  }
  s.weight_norm_ratio = w0 > 0 ? w1 / w0 : 1.0;
  double w_max = w0;
  for (const auto& st : steps) {
    if (std::isfinite(st.weight_norm)) w_max = std::max(w_max, st.weight_norm);
  }
  s.weight_norm_growth = w0 > 0 ? w_max / w0 : 1.0;
  // Only when steps 0–3 are the record's first four (a log may start later or skip steps).
  if (steps.size() >= 4 && steps[0].step == 0 && steps[3].step == 3 &&
      std::isfinite(steps[0].loss) && steps[0].loss > 0) {
    s.first_update_jump = median({steps[1].loss, steps[2].loss, steps[3].loss}) / steps[0].loss;
  }

  // Update ratios over weight layers and probes.
  std::vector<double> ratios;
  double largest = -1, smallest = std::numeric_limits<double>::infinity();
  for (size_t li = 0; li < r.layers.size(); ++li) {
    if (!r.layers[li].has_weights) continue;
    std::vector<double> per_layer;
    for (const auto& p : r.probes) {
      if (li >= p.layers.size() || !p.layers[li].has_weights) continue;
      // A layer that got no gradient and did not move (every unit after it dead, a frozen
      // layer) says nothing about the step size: its zero is not a small update.
      const LayerSample& l = p.layers[li];
      if (l.update_ratio == 0 && l.grad_norm == 0) continue;
      per_layer.push_back(l.update_ratio);
    }
    const double m = median(per_layer);
    if (std::isnan(m)) continue;
    ratios.push_back(m);
    if (m > largest) {
      largest = m;
      s.largest_update_layer = r.layers[li].name;
    }
    if (m < smallest) {
      smallest = m;
      s.smallest_update_layer = r.layers[li].name;
    }
  }
  s.median_update_ratio = median(ratios);

  if (!r.probes.empty()) {
    const LayerProbe& p0 = r.probes.front();
    std::vector<double> first_ratios;
    for (size_t li = 0; li < r.layers.size() && li < p0.layers.size(); ++li) {
      if (r.layers[li].has_weights) first_ratios.push_back(p0.layers[li].update_ratio);
    }
    s.early_update_ratio = median(first_ratios);
    double first_std = kNaN, last_std = kNaN;
    for (size_t li = 0; li < r.layers.size() && li < p0.layers.size(); ++li) {
      if (!r.layers[li].has_weights) continue;
      if (p0.layers[li].weight_norm == 0) s.zero_initial_weights = true;
      const double sd = p0.layers[li].activation.std;
      if (std::isnan(first_std)) first_std = sd;
      last_std = sd;
    }
    if (first_std > 0 && std::isfinite(last_std))
      s.initial_activation_growth = last_std / first_std;
  }
  return s;
}

}  // namespace lossdoctor::diagnose
