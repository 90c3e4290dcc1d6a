#include "lossdoctor/diagnose/ranks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

std::string straggler_note(const RunRecord& record, const DiagnoserOptions& options) {
  const auto& d = record.distributed;
  if (!d || d->world_size < 2 || d->steps.empty()) return "";
  const size_t world = static_cast<size_t>(d->world_size);
  std::vector<std::vector<double>> times(world);
  for (const DistributedStep& s : d->steps) {
    if (s.ranks.size() != world) continue;
    for (size_t r = 0; r < world; ++r) times[r].push_back(s.ranks[r].seconds);
  }
  std::string note;
  double worst = 0;
  for (size_t r = 0; r < world; ++r) {
    if (times[r].empty()) continue;
    std::vector<double> medians;
    for (size_t q = 0; q < world; ++q)
      if (q != r && !times[q].empty()) medians.push_back(series::median(times[q]));
    if (medians.empty()) continue;
    const double mine = series::median(times[r]), rest = series::median(medians);
    if (mine < options.straggler.time_ratio * rest || mine - rest < options.straggler.min_seconds)
      continue;
    if (mine / std::max(rest, 1e-12) <= worst) continue;
    worst = mine / std::max(rest, 1e-12);
    note = fmt::format(
        "performance (not a cause of loss trouble): rank {} is a straggler: its data, forward "
        "and backward take {:.1f} ms per step against {:.1f} ms on the other ranks (median), and "
        "every step waits for it in the gradients' allreduce",
        r, 1000 * mine, 1000 * rest);
  }
  return note;
}

}  // namespace lossdoctor::diagnose
