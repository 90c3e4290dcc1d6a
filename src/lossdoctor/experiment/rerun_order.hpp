#pragma once
// The orders of a data-parallel confirmation (docs/distributed.md, "Confirmation reruns"): rank 0
// decides and judges every rerun (experiment::confirm) and, before each one trains, sends its
// order to the other ranks (experiment::follow_confirm), so that every rank builds the same spec
// and training split and trains the rerun in lock-step on the group. A final order ends them.
//
// Contract:
//   to_json/rerun_order_from_json: a round trip keeps every field; from_json throws
//     std::runtime_error on a message that is not an order (a corrupt or foreign message).
//   send_rerun_order (rank 0) / receive_rerun_order (every other rank): one broadcast of the
//     order's length and one of its bytes; every rank of the group must take part. Throws
//     train::DistributedError when a peer is lost or does not answer within the group's timeout.

#include <cstdint>
#include <string>
#include <vector>

namespace lossdoctor::train {
class ProcessGroup;
}

namespace lossdoctor::experiment {

/// One rerun as every rank builds it from the diagnosis spec and its loaded data.
struct RerunOrder {
  bool end = false;               ///< no more reruns: the followers return
  bool respec = false;            ///< parse the spec's resolved YAML again with `sets`
  std::vector<std::string> sets;  ///< `--set` overrides (key=value), applied in this order
  std::vector<int64_t> drop;      ///< training positions left out (sorted)
  bool oversample = false;        ///< balance the classes by repeating the rare ones
  bool reload = false;            ///< decode the data again (a fix that changes what is loaded)
  int64_t max_steps = 0;          ///< the rerun's step cap (TrainOptions::max_steps)
  /// TrainOptions::plan_train_size (0: the rerun's own split): a rerun that drops training
  /// images is planned like the user's run on the whole split.
  int64_t plan_train_size = 0;
};

std::string to_json(const RerunOrder& order);
RerunOrder rerun_order_from_json(const std::string& text);

/// Rank 0: sends `order` to every other rank of `group`.
void send_rerun_order(train::ProcessGroup& group, const RerunOrder& order);
/// Every other rank: waits for rank 0's next order.
RerunOrder receive_rerun_order(train::ProcessGroup& group);

}  // namespace lossdoctor::experiment
