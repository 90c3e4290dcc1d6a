#pragma once
// Progress output on stderr: a redrawn bar on a terminal, plain lines otherwise, nothing when
// quiet.

#include <chrono>
#include <cstdint>
#include <string>

namespace lossdoctor::train {

enum class Progress;

class ProgressReporter {
 public:
  /// mode Auto picks Bar when stderr is a terminal, else Lines.
  ProgressReporter(Progress mode, int64_t total_steps, int64_t steps_per_epoch, int64_t epochs);

  void step(int64_t step, int64_t epoch, double loss, double lr);
  void epoch_end(const std::string& line);
  void message(const std::string& line);
  void finish();

 private:
  void clear_bar();

  bool bar_ = false, quiet_ = false;
  int64_t total_steps_, steps_per_epoch_, epochs_;
  int64_t first_step_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool bar_visible_ = false;
  double smoothed_loss_ = 0;
};

/// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace lossdoctor::train
