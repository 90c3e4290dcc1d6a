// unchanged_weights: the optimiser steps but the parameters do not move although gradients flow.
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
constexpr size_t kMinSteps = 20;
/// A step leaves the weights unchanged when update_norm == 0 or update_norm / weight_norm is
/// below kMinRelUpdate.
constexpr double kMinRelUpdate = 1e-10;
/// Fires when at least this fraction of the steps with a positive gradient are unchanged.
constexpr double kMinFraction = 0.8;
}  // namespace

std::vector<Symptom> detect_unchanged_weights(const RunRecord& r) {
  using namespace series;
  if (r.steps.size() < kMinSteps) return {};
  // Missing data: neither an update nor a weight norm was ever recorded.
  bool recorded = false;
  for (const auto& st : r.steps) {
    if (st.update_norm != 0 || st.weight_norm != 0) recorded = true;
  }
  if (!recorded) return {};

  size_t with_grad = 0, unchanged = 0;
  int64_t first = -1;
  double max_update = 0;
  for (const auto& st : r.steps) {
    if (!std::isfinite(st.grad_norm) || st.grad_norm <= 0) continue;
    if (!std::isfinite(st.update_norm)) continue;
    ++with_grad;
    const bool still = st.update_norm == 0 ||
                       (st.weight_norm > 0 && st.update_norm / st.weight_norm < kMinRelUpdate);
    if (still) {
      ++unchanged;
      if (first < 0) first = st.step;
    } else {
      max_update = std::max(max_update, st.update_norm);
    }
  }
  if (with_grad < kMinSteps) return {};
  const double frac = static_cast<double>(unchanged) / static_cast<double>(with_grad);
  if (frac < kMinFraction) return {};

  std::vector<double> g, lr;
  for (const auto& st : r.steps) {
    if (std::isfinite(st.grad_norm) && st.grad_norm > 0) g.push_back(st.grad_norm);
    if (std::isfinite(st.lr)) lr.push_back(st.lr);
  }
  Symptom s;
  s.id = "unchanged_weights";
  s.step = first;
  s.value = frac;
  s.severity = clamp(frac, 0.0, 1.0);
  s.evidence.push_back(fmt::format(
      "weights unchanged (update norm 0 or below {} of the weight norm) in {} of {} steps with a "
      "non-zero gradient",
      num(kMinRelUpdate), unchanged, with_grad));
  s.evidence.push_back(fmt::format("median gradient norm {}, median lr {}, largest update {}",
                                   num(median(g)), num(median(lr)), num(max_update)));
  return {s};
}

}  // namespace lossdoctor::diagnose
