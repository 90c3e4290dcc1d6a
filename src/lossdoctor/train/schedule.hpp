#pragma once
// Learning-rate schedules as functions of (step, epoch), plus the one stateful schedule
// (plateau), whose state is a plain number saved in checkpoints.
//
// Contract:
//   requires: base_lr > 0; total_steps ≥ 1 (cosine's horizon).
//   ensures:  lr(step, epoch) =
//               constant:    base
//               step:        base · gamma^⌊t / step_size⌋, t = epoch or step (per)
//               exponential: base · gamma^t
//               cosine:      min_lr + (base − min_lr)(1 + cos(π·step/total_steps))/2
//               plateau:     base · factor^k, k = reductions so far
//             times min(1, (step + 1)/warmup_steps) during warmup. Steps and epochs count from 0.

#include <cstdint>
#include <string>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::train {

class LrSchedule {
 public:
  LrSchedule(const spec::ScheduleSpec& spec, double base_lr, int64_t total_steps);

  double lr(int64_t step, int64_t epoch) const;
  /// Plateau bookkeeping after each validation; other schedules ignore it.
  void on_validation(double val_loss);

  int64_t reductions() const { return reductions_; }
  double best_val_loss() const { return best_; }
  int64_t epochs_without_improvement() const { return bad_epochs_; }
  /// Restores plateau state from a checkpoint.
  void restore(int64_t reductions, double best, int64_t bad_epochs);

 private:
  spec::ScheduleSpec spec_;
  double base_;
  int64_t total_steps_;
  int64_t reductions_ = 0;
  double best_;
  int64_t bad_epochs_ = 0;
};

/// Whether `schedule` drives the rate of some step in [done, end) above `factor` times the
/// highest rate of steps [0, done) (step s in epoch s / steps_per_epoch): a run stopped at
/// `done` has not yet met the rates the rest of it would. Held-out zoo 5's rate tripled every 40
/// steps: the diagnosis settled on "healthy" at step 200 of 300, and the run diverged at 275.
/// Plateau reductions are not foreseen (they only lower the rate).
/// Requires: 0 < done, steps_per_epoch ≥ 1, factor ≥ 1.
bool rate_rises_ahead(const LrSchedule& schedule, int64_t done, int64_t end,
                      int64_t steps_per_epoch, double factor);

/// Spec spelling, e.g. "step(step_size=1, gamma=0.5, per=step)".
std::string schedule_name(const spec::ScheduleSpec& spec);

}  // namespace lossdoctor::train
