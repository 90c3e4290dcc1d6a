#include "lossdoctor/train/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::train {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds + 0.5);
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

ProgressReporter::ProgressReporter(Progress mode, int64_t total_steps, int64_t steps_per_epoch,
                                   int64_t epochs)
    : total_steps_(total_steps),
      steps_per_epoch_(std::max<int64_t>(1, steps_per_epoch)),
      epochs_(epochs) {
  quiet_ = mode == Progress::Quiet;
  bar_ = mode == Progress::Bar || (mode == Progress::Auto && ::isatty(STDERR_FILENO));
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressReporter::step(int64_t step, int64_t epoch, double loss, double lr) {
  if (quiet_) return;
  if (first_step_ < 0) {
    first_step_ = step;
    start_ = std::chrono::steady_clock::now();
  }
  smoothed_loss_ = step == first_step_ || !std::isfinite(smoothed_loss_)
                       ? loss
                       : 0.9 * smoothed_loss_ + 0.1 * loss;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = step + 1 - first_step_;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total_steps_ - step - 1) / rate : NAN;
  const int64_t in_epoch = step % steps_per_epoch_ + 1;

  if (bar_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < 0.1 && step + 1 < total_steps_)
      return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * in_epoch / steps_per_epoch_);
    fmt::print(stderr, "\r\033[Kepoch {}/{} [{}{}] {}/{} · {:.1f} steps/s · loss {:.4f} · ETA {}",
               epoch + 1, epochs_, std::string(filled, '#'), std::string(kWidth - filled, '.'),
               in_epoch, steps_per_epoch_, rate, smoothed_loss_, format_duration(eta));
    bar_visible_ = true;
    return;
  }
  const int64_t every = std::max<int64_t>(1, steps_per_epoch_ / 10);
  if (in_epoch % every != 0 && step + 1 != total_steps_) return;
  fmt::print(stderr, "epoch {}/{} step {}/{} · loss {:.4f} · lr {:.3g} · {:.1f} steps/s · ETA {}\n",
             epoch + 1, epochs_, in_epoch, steps_per_epoch_, smoothed_loss_, lr, rate,
             format_duration(eta));
}

void ProgressReporter::clear_bar() {
  if (bar_visible_) {
    fmt::print(stderr, "\r\033[K");
    bar_visible_ = false;
  }
}

void ProgressReporter::epoch_end(const std::string& line) { message(line); }

void ProgressReporter::message(const std::string& line) {
  if (quiet_) return;
  clear_bar();
  fmt::print(stderr, "{}\n", line);
}

void ProgressReporter::finish() {
  if (!quiet_) clear_bar();
}

}  // namespace lossdoctor::train
