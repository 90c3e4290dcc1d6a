#pragma once
// `diagnose --record-in FILE`: a RunRecord JSON (report::record_to_json, as `diagnose --record`
// and the Python front end write it) diagnosed without training. No torch.
//
// Contract:
//   read_record_file: throws InputError "PATH: ..." for a file that cannot be read, is not JSON
//     (with the byte) or is not a RunRecord (naming the key that is missing or has the wrong
//     type); never anything else for bad content.
//   diagnose_record: the detectors, the diagnoser and the verdict of `diagnose` on the record,
//     with no lint or audit findings (there is no spec) and no confirmation reruns; report
//     command "diagnose", spec = the record's spec_name (or `source` when empty), a note saying so.

#include <string>

#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::logs {

RunRecord read_record_file(const std::string& path);

report::Report diagnose_record(const RunRecord& record, const std::string& source);

}  // namespace lossdoctor::logs
