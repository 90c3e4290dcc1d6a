#pragma once
// Notes about the ranks of a data-parallel run that are not causes of loss trouble (a straggler
// rank costs time, not loss). Pure, no torch.
//
// Contract:
//   straggler_note: requires a record; ensures "" without RunRecord::distributed or when no
//   rank's median compute time per step is both options.straggler.time_ratio × and
//   options.straggler.min_seconds above the median of the other ranks; otherwise one line
//   naming the slowest such rank, its time and the others'.

#include <string>

#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

std::string straggler_note(const RunRecord& record, const DiagnoserOptions& options = {});

}  // namespace lossdoctor::diagnose
