#pragma once
// Reading back a run's metric files (steps.jsonl, epochs.jsonl: one JSON object per line) when
// a run resumes, where a kill may have cut the last write short. Header-only so that the trainer
// and the fuzz harness (fuzz/resume_fuzz.cpp) run the same code.
//
// Contract (read_jsonl_records):
//   requires: `parse` turns one line's JSON into a Record, throwing nlohmann::json::exception
//             when a field is missing or of the wrong type; `needed(record)` says whether the
//             record lies before the checkpoint, which holds for the first `needed_count`
//             records of an intact file; `checkpoint_at` names the checkpoint ("step 12").
//   ensures:  returns the needed records in file order. A line that does not parse is the
//             cut-short tail of a killed write when no valid record follows it, or when every
//             needed record came before it: reading stops there and `warn` (when set) gets one
//             line "FILE:LINE: damaged record (a write cut short); ...". A missing file reads as
//             no records. Blank lines are skipped.
//   throws:   InputError "FILE:LINE: damaged record before the checkpoint's ..." when a line that
//             does not parse has valid records after it and before the checkpoint's records are
//             complete (damage in the middle, not a kill). Nothing else: any bytes are input.

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor {

/// A number field of a metrics record; null (how NaN and Inf are written) reads as NaN.
inline double json_number(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = j.at(key);
  return v.is_null() ? NAN : v.get<double>();
}

/// One steps.jsonl line into a Record aggregate {step, epoch, loss, lr, grad_norm, seconds}
/// (train::StepRecord; a template so that util needs no train header).
template <typename Record>
Record parse_step_record(const nlohmann::json& j) {
  return {j.at("step").get<int64_t>(), j.at("epoch").get<int64_t>(), json_number(j, "loss"),
          json_number(j, "lr"),        json_number(j, "grad_norm"),  json_number(j, "seconds")};
}

/// One epochs.jsonl line into a Record aggregate {epoch, step, train_loss, train_accuracy,
/// val_loss, val_accuracy, lr, seconds} (train::EpochRecord).
template <typename Record>
Record parse_epoch_record(const nlohmann::json& j) {
  return {j.at("epoch").get<int64_t>(), j.at("step").get<int64_t>(),
          json_number(j, "train_loss"), json_number(j, "train_accuracy"),
          json_number(j, "val_loss"),   json_number(j, "val_accuracy"),
          json_number(j, "lr"),         json_number(j, "seconds")};
}

template <typename Record, typename Parse, typename Needed>
std::vector<Record> read_jsonl_records(const std::filesystem::path& file, Parse parse,
                                       Needed needed, size_t needed_count,
                                       const std::string& checkpoint_at,
                                       const std::function<void(const std::string&)>& warn) {
  std::vector<Record> kept;
  std::ifstream in(file);
  if (!in) return kept;
  int64_t number = 0, damaged = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::optional<Record> record;
    try {
      record = parse(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
    }
    if (!record) {
      if (damaged == 0) damaged = number;
      if (kept.size() >= needed_count) break;  // past the checkpoint: rewritten anyway
      continue;
    }
    if (damaged > 0) {
      throw InputError(fmt::format(
          "{}:{}: damaged record before the checkpoint's {} (valid records follow it, so it "
          "is no write cut short by a kill); cannot resume: repair or delete that line",
          file.string(), damaged, checkpoint_at));
    }
    if (needed(*record)) kept.push_back(*record);
  }
  if (damaged > 0 && warn) {
    std::string lost;
    if (kept.size() < needed_count) {
      lost = fmt::format(" ({} of the {} records before it are lost)", needed_count - kept.size(),
                         needed_count);
    }
    warn(
        fmt::format("{}:{}: damaged record (a write cut short); the metric files are truncated "
                    "back to the checkpoint's {}{}",
                    file.string(), damaged, checkpoint_at, lost));
  }
  return kept;
}

}  // namespace lossdoctor
