#pragma once
// Reading a training log into LogData: format detection, column (or tag) detection, the CSV
// reader, TensorBoard scalars, and a directory that holds one log. No torch.
//
// Contract:
//   requires: `path` a file or a directory; `overrides` names columns or tags the user mapped
//             (empty strings: detect).
//   ensures:  LogData with at least one training-loss value (per step or per epoch); rows keep
//             file order; nan/inf cells are values, empty cells absent.
//   throws:   InputError / DataError with the file and the line (CSV: "PATH:LINE: ...") or the
//             record (TFRecord): empty file, no loss column (naming the columns seen and the flag
//             that maps one), a mapped column that is not there, a non-numeric cell (its column),
//             a ragged row, a damaged or truncated record; a directory with no log or several.

#include <string>
#include <vector>

#include "lossdoctor/logs/log_data.hpp"

namespace lossdoctor::logs {

/// The role → column mapping for `names` (CSV header or TensorBoard tags): `overrides` first
/// (each must be one of `names`), then the usual spellings (docs/logs.md). `source` names the
/// file in errors.
ColumnMap detect_columns(const std::vector<std::string>& names, const ColumnMap& overrides,
                         const std::string& source);

/// A CSV log (Keras CSVLogger, Lightning metrics.csv, lossdoctor steps.csv or epochs.csv) from
/// its text; `path` is used in messages.
LogData parse_csv_log(const std::string& text, const std::string& path, LogFormat format,
                      const ColumnMap& overrides);

/// A TensorBoard event file.
LogData read_tensorboard_log(const std::string& path, const ColumnMap& overrides);

/// Any supported log: a file, or a directory holding exactly one metrics.csv, one events file,
/// or lossdoctor's steps.csv (+ epochs.csv).
LogData read_log(const std::string& path, LogFormat format, const ColumnMap& overrides);

}  // namespace lossdoctor::logs
