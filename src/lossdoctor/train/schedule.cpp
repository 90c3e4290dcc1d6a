#include "lossdoctor/train/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lossdoctor::train {

using Kind = spec::ScheduleSpec::Kind;

LrSchedule::LrSchedule(const spec::ScheduleSpec& spec, double base_lr, int64_t total_steps)
    : spec_(spec),
      base_(base_lr),
      total_steps_(std::max<int64_t>(1, total_steps)),
      best_(std::numeric_limits<double>::infinity()) {}

double LrSchedule::lr(int64_t step, int64_t epoch) const {
  const double t = static_cast<double>(spec_.per_step ? step : epoch);
  double lr = base_;
  switch (spec_.kind) {
    case Kind::Constant:
      break;
    case Kind::Step:
      lr = base_ * std::pow(spec_.gamma, std::floor(t / static_cast<double>(spec_.step_size)));
      break;
    case Kind::Exponential:
      lr = base_ * std::pow(spec_.gamma, t);
      break;
    case Kind::Cosine: {
      const double progress = std::min(1.0, static_cast<double>(step) / total_steps_);
      lr = spec_.min_lr + (base_ - spec_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
      break;
    }
    case Kind::Plateau:
      lr = base_ * std::pow(spec_.factor, static_cast<double>(reductions_));
      break;
  }
  if (spec_.warmup_steps > 0 && step < spec_.warmup_steps) {
    lr *= static_cast<double>(step + 1) / static_cast<double>(spec_.warmup_steps);
  }
  return lr;
}

bool rate_rises_ahead(const LrSchedule& schedule, int64_t done, int64_t end,
                      int64_t steps_per_epoch, double factor) {
  const auto rate = [&](int64_t step) { return schedule.lr(step, step / steps_per_epoch); };
  double seen = 0;
  for (int64_t s = 0; s < done; ++s) seen = std::max(seen, rate(s));
  for (int64_t s = done; s < end; ++s) {
    if (rate(s) > factor * seen) return true;
  }
  return false;
}

void LrSchedule::on_validation(double val_loss) {
  if (spec_.kind != Kind::Plateau) return;
  // Improvement must beat the best by a relative 1e-4 (PyTorch's default threshold).
  if (val_loss < best_ * (1.0 - 1e-4)) {
    best_ = val_loss;
    bad_epochs_ = 0;
    return;
  }
  if (++bad_epochs_ > spec_.patience) {
    ++reductions_;
    bad_epochs_ = 0;
  }
}

void LrSchedule::restore(int64_t reductions, double best, int64_t bad_epochs) {
  reductions_ = reductions;
  best_ = best;
  bad_epochs_ = bad_epochs;
}

std::string schedule_name(const spec::ScheduleSpec& spec) {
  std::string out;
  const char* per = spec.per_step ? "step" : "epoch";
  switch (spec.kind) {
    case Kind::Constant:
      out = "constant";
      break;
    case Kind::Step:
      out = fmt::format("step(step_size={}, gamma={:g}, per={})", spec.step_size, spec.gamma, per);
      break;
    case Kind::Exponential:
      out = fmt::format("exponential(gamma={:g}, per={})", spec.gamma, per);
      break;
    case Kind::Cosine:
      out = fmt::format("cosine(min_lr={:g})", spec.min_lr);
      break;
    case Kind::Plateau:
      out = fmt::format("plateau(factor={:g}, patience={})", spec.factor, spec.patience);
      break;
  }
  if (spec.warmup_steps > 0) out += fmt::format(" + warmup {} steps", spec.warmup_steps);
  return out;
}

}  // namespace lossdoctor::train
