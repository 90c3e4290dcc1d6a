// replicas_diverged (data-parallel records): the ranks' parameters differ.
//
// Evidence: at some probe step, two ranks' parameter checksums differ by more than
// `replicas_diverged.relative_tolerance` × max(1, |rank 0's|) (replicas that agree bitwise have
// equal checksums); weight `weight`, first step the first such probe. Penalties: none.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_replicas_diverged(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.replicas_diverged;
  if (!d || d->world_size < 2) return;
  int64_t differing = 0;
  const ChecksumSample* first = nullptr;
  size_t first_rank = 0;
  for (const ChecksumSample& c : d->checksums) {
    if (c.ranks.size() < 2) continue;
    const double ref = c.ranks.front();
    const double tol = o.relative_tolerance * std::max(1.0, std::abs(ref));
    for (size_t r = 1; r < c.ranks.size(); ++r) {
      if (!(std::abs(c.ranks[r] - ref) <= tol)) {  // NaN on one rank counts as different
        ++differing;
        if (first == nullptr) {
          first = &c;
          first_rank = r;
        }
        break;
      }
    }
  }
  if (first == nullptr) return;
  Candidate& c = out.evidence("replicas_diverged");
  c.add(o.weight, fmt::format("the ranks' parameter checksums differ from step {} on (rank {}: "
                              "{:.10g}, rank 0: {:.10g}), at {} of {} probes",
                              first->step, first_rank, first->ranks[first_rank],
                              first->ranks.front(), differing, d->checksums.size()));
  c.first_step = first->step;
}

}  // namespace lossdoctor::diagnose
