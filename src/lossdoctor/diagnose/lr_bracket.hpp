#pragma once
// The learning-rate bracket (opt-in: `diagnose --lr-bracket`). A rate a few times too low or too
// high still trains, only worse: no symptom shows, the update ratios stay in their usual band,
// and the diagnoser raises nothing (the held-out zoos' quiet learning-rate faults: SGD at 4× or
// 10× its twin's rate, Adagrad at a fifth, called healthy with no suspicion to screen). Asked
// to, the doctor screens two suspicions nobody raised on a run that looks healthy: lr_too_low
// with the rate × `factor` and lr_too_high with the rate ÷ `factor`. Like every screened
// suspicion, only a rerun that ends meaningfully better than both the run and a placebo rerun
// confirms one (docs/confirm.md). It answers "does another rate train better within this
// budget", which on the zoos' healthy controls is often yes (session 20: 12 of 51 controls at
// seed 0, by as much as the faults it catches), hence off by default.
//
// Contract:
//   lr_bracket_findings:
//     requires: factor > 1 (throws std::invalid_argument otherwise).
//     ensures:  empty unless the record names a known optimiser (spec::all_optimizer_traits) and
//               a base rate > 0; otherwise one suspected finding per direction whose cause is not
//               already in `screened` (a raised suspicion keeps its own fix), lr_too_low first,
//               confidence 0 (below every raised suspicion), fix optimizer.lr = base rate × or ÷
//               factor, one evidence line naming both rates. Pure.

#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

/// The two bracket suspicions for a run that looks healthy (see above).
std::vector<Finding> lr_bracket_findings(const RunRecord& record, double factor,
                                         const std::vector<Finding>& screened);

}  // namespace lossdoctor::diagnose
