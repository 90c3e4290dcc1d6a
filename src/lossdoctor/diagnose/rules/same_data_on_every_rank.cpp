// same_data_on_every_rank (data-parallel records): the shards overlap completely.
//
// Evidence: after `same_data_on_every_rank.min_steps` gathered steps, more than
// `same_batch_fraction` of the steps had batches of the same samples on every rank (equal batch
// hashes; weight `weight`). Records without batch hashes: more than `same_histogram_fraction` of
// the steps had equal label histograms on every rank and losses within `loss_tolerance` of each
// other (lock-step; weight `histogram_weight`). Penalties: none.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_same_data_on_every_rank(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.same_data_on_every_rank;
  if (!d || d->world_size < 2 || static_cast<int64_t>(d->steps.size()) < o.min_steps) return;
  int64_t hashed = 0, same_batch = 0, lock_step = 0, first_same = -1;
  for (const DistributedStep& s : d->steps) {
    if (s.ranks.size() < 2) continue;
    const RankStep& r0 = s.ranks.front();
    const bool has_hashes = std::all_of(s.ranks.begin(), s.ranks.end(),
                                        [](const RankStep& r) { return r.batch_hash != 0; });
    bool same_hash = has_hashes, same_labels = true;
    for (const RankStep& r : s.ranks) {
      same_hash = same_hash && r.batch_hash == r0.batch_hash;
      same_labels =
          same_labels && r.label_histogram == r0.label_histogram &&
          std::abs(r.loss - r0.loss) <= o.loss_tolerance * std::max(1.0, std::abs(r0.loss));
    }
    if (has_hashes) ++hashed;
    if (same_hash) ++same_batch;
    if (same_labels) ++lock_step;
    if ((same_hash || (!has_hashes && same_labels)) && first_same < 0) first_same = s.step;
  }
  const auto n = static_cast<double>(d->steps.size());
  Candidate* c = nullptr;
  if (hashed > 0 && same_batch > o.same_batch_fraction * static_cast<double>(hashed)) {
    c = &out.evidence("same_data_on_every_rank");
    c->add(o.weight,
           fmt::format("all {} ranks trained on the same samples at {} of {} steps (equal batch "
                       "hashes): the shards overlap, the effective data is 1/{}",
                       d->world_size, same_batch, hashed, d->world_size));
  } else if (hashed == 0 && lock_step > o.same_histogram_fraction * n) {
    c = &out.evidence("same_data_on_every_rank");
    c->add(o.histogram_weight,
           fmt::format("all {} ranks had the same label histogram and loss at {} of {} steps "
                       "(lock-step)",
                       d->world_size, lock_step, d->steps.size()));
  }
  if (c == nullptr) return;
  if (lock_step > 0)
    c->note(0.5, fmt::format("the ranks' losses agreed within {:.1g} at {} of {} steps",
                             o.loss_tolerance, lock_step, d->steps.size()));
  if (first_same >= 0 && (!c->first_step || first_same < *c->first_step))
    c->first_step = first_same;
}

}  // namespace lossdoctor::diagnose
