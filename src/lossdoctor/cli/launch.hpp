#pragma once
// `lossdoctor train|diagnose SPEC --nproc N`: starts N copies of this program on this machine as
// ranks 0..N-1 of a data-parallel job (docs/distributed.md), like torchrun's standalone mode.
//
// Contract:
//   requires: args is the command line (argv) that asked for --nproc; nproc ≥ 2; `command`
//             names it in messages ("train", "diagnose").
//   ensures:  each rank runs args without --nproc, plus --rank r --world-size N
//             --master 127.0.0.1:PORT (a free port), and --threads max(1, cores / N) unless
//             args give --threads. Returns when every rank has ended. When a
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

/// `args` (argv) as is when it gives --threads; otherwise with "--threads T" after argv[0],
/// T = max(1, cores / nproc), so that N ranks on this machine share its cores instead of each
/// starting a thread per core (like torchrun's OMP_NUM_THREADS=1): oversubscribed OpenMP
/// barriers made `train --nproc 2` on 2 cores 5-6x slower than with --threads 1.
std::vector<std::string> with_rank_threads(std::vector<std::string> args, int nproc);

}  // namespace lossdoctor::cli
