#pragma once
// `lossdoctor train|diagnose SPEC --nproc N`: starts N copies of this program on this machine as
// ranks 0..N-1 of a data-parallel job (docs/distributed.md), like torchrun's standalone mode.
//
// Contract:
//   requires: args is the command line (argv) that asked for --nproc; nproc ≥ 2; `command`
//             names it in messages ("train", "diagnose").
//   ensures:  each rank runs args without --nproc, plus --rank r --world-size N
//             --master 127.0.0.1:PORT (a free port). Returns when every rank has ended. When a
//             rank exits non-zero or is killed, the others get `grace` to end on their own
//             (they see the lost peer within the collectives' timeout), then SIGTERM, then
//             SIGKILL; a message names each rank that failed and how. Temporary files that a
//             killed rank left in `run_dir` are removed, so no half-written file remains.
//             Exit status: the ranks' common status when they agree (0, 1, 2, 130); otherwise
//             2 if the first rank to fail reported bad input, else 1.

#include <chrono>
#include <string>
#include <vector>

namespace lossdoctor::cli {

int launch_ranks(const std::vector<std::string>& args, int nproc, const std::string& run_dir,
                 std::chrono::milliseconds grace, const std::string& command = "train");

/// `args` without "--nproc N" / "--nproc=N".
std::vector<std::string> without_nproc(const std::vector<std::string>& args);

}  // namespace lossdoctor::cli
