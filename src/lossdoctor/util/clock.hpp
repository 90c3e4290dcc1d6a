#pragma once
// Elapsed wall time, as every report and progress line gives it: seconds as a double, measured on
// the monotonic clock (a system clock change must not make a run look negative or endless).

#include <chrono>

namespace lossdoctor {

using Clock = std::chrono::steady_clock;

/// Seconds from `start` to now.
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace lossdoctor
