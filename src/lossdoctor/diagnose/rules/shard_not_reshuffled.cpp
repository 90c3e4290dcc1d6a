// shard_not_reshuffled (data-parallel records): every epoch sees its shard in the same order.
//
// Evidence: for every rank, the batch at each position of an epoch is compared with the batch
// at the same position of the epoch before (batch hashes: same samples, same order). With at
// least `shard_not_reshuffled.min_pairs` such pairs, a repeated share above `repeat_fraction`
// weighs `weight`. A shuffled shard practically never repeats a batch. When lint finds the data
// not shuffled at all (unshuffled_data: data.shuffle false), that is why, and the fix is
// data.shuffle=true. Penalties: none.
#include <fmt/format.h>

#include <map>
#include <utility>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

void rule_shard_not_reshuffled(const RuleContext& ctx, Collector& out) {
  const auto& d = ctx.record.distributed;
  const auto& o = ctx.options.shard_not_reshuffled;
  if (!d || d->world_size < 2) return;
  // (epoch, position in the epoch) → the step's batches, one per rank.
  std::map<std::pair<int64_t, int64_t>, const DistributedStep*> at;
  for (const DistributedStep& s : d->steps) at[{s.epoch, s.batch_index}] = &s;
  int64_t pairs = 0, repeats = 0, first_epoch = -1;
  for (const auto& [key, s] : at) {
    const auto before = at.find({key.first - 1, key.second});
    if (before == at.end()) continue;
    const DistributedStep& p = *before->second;
    for (size_t r = 0; r < s->ranks.size() && r < p.ranks.size(); ++r) {
      if (s->ranks[r].batch_hash == 0 || p.ranks[r].batch_hash == 0) continue;
      ++pairs;
      if (s->ranks[r].batch_hash == p.ranks[r].batch_hash) {
        ++repeats;
        if (first_epoch < 0) first_epoch = key.first;
      }
    }
  }
  if (pairs < o.min_pairs || repeats <= o.repeat_fraction * static_cast<double>(pairs)) return;
  Candidate& c = out.evidence("shard_not_reshuffled");
  c.add(o.weight, fmt::format("{} of {} batches (over all ranks) repeated the batch at the same "
                              "position of the epoch before: the shards are not reshuffled",
                              repeats, pairs));
  if (ctx.lint_has("unshuffled_data")) {
    c.note(o.weight, "data.shuffle is false (lint): no epoch is shuffled, on any rank");
    c.fix["data.shuffle"] = "true";
  }
  for (const DistributedStep& s : d->steps) {
    if (s.epoch == first_epoch) {
      c.first_step = s.step;
      break;
    }
  }
}

}  // namespace lossdoctor::diagnose
