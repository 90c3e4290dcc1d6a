// rank_specific_data_fault (data-parallel records): one rank's loss is an outlier among ranks.
//
// Evidence: over the second half of the gathered steps (at least
// `rank_specific_data_fault.min_steps`), one rank's own batch loss was the highest of all ranks
// at more than `highest_fraction` of the steps, and its median loss is at least `loss_ratio` ×
// the median loss of the other ranks (weight `weight`; + `strong_bonus` when the excess is
// twice that). With disjoint shards of one dataset, the highest loss moves from rank to rank.
// Penalties: none.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "lossdoctor/diagnose/rules/rules.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

void rule_rank_specific_data_fault(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.rank_specific_data_fault;
  if (!d || d->world_size < 2) return;
  const size_t world = static_cast<size_t>(d->world_size);
  const size_t begin = d->steps.size() / 2;
  if (static_cast<int64_t>(d->steps.size() - begin) < o.min_steps) return;
  std::vector<int64_t> highest(world, 0);
  std::vector<std::vector<double>> losses(world);
  int64_t counted = 0;
  for (size_t i = begin; i < d->steps.size(); ++i) {
    const auto& ranks = d->steps[i].ranks;
    if (ranks.size() != world) continue;
    size_t top = 0;
    bool finite = true;
    for (size_t r = 0; r < world; ++r) {
      finite = finite && std::isfinite(ranks[r].loss);
      if (ranks[r].loss > ranks[top].loss) top = r;
    }
    if (!finite) continue;
    ++counted;
    ++highest[top];
    for (size_t r = 0; r < world; ++r) losses[r].push_back(ranks[r].loss);
  }
  if (counted < o.min_steps) return;
  for (size_t r = 0; r < world; ++r) {
    if (highest[r] <= o.highest_fraction * static_cast<double>(counted)) continue;
    std::vector<double> others;
    for (size_t q = 0; q < world; ++q)
      if (q != r) others.insert(others.end(), losses[q].begin(), losses[q].end());
    const double mine = series::median(losses[r]), rest = series::median(others);
    if (!(rest > 0) || mine < o.loss_ratio * rest) continue;
    const double ratio = mine / rest;
    Candidate& c = out.evidence("rank_specific_data_fault");
    c.add(o.weight + (ratio - 1 >= 2 * (o.loss_ratio - 1) ? o.strong_bonus : 0.0),
          fmt::format("rank {}'s own loss was the highest of the {} ranks at {} of {} late steps; "
                      "its median {} is {:.2f}× the other ranks' {}",
                      r, world, highest[r], counted, fmt_num(mine), ratio, fmt_num(rest)));
    c.first_step = d->steps[begin].step;
    return;
  }
}

}  // namespace lossdoctor::diagnose
