#pragma once
// A training log as read from a file (Keras/Lightning CSV, TensorBoard events, lossdoctor's own
// steps.csv/epochs.csv), before it becomes a RunRecord. Plain numbers, no torch.
//
// An absent cell is std::nullopt; a cell that says nan/inf is that value (a non-finite loss is
// the nan_loss symptom, not a reading error).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lossdoctor::logs {

/// The log formats diagnose-log reads.
enum class LogFormat { Auto, Keras, Lightning, TensorBoard, Lossdoctor };

/// "auto" | "keras" | "lightning" | "tensorboard" | "lossdoctor"; throws InputError otherwise.
LogFormat parse_log_format(const std::string& name);
std::string log_format_name(LogFormat format);

/// The metric roles a log can hold; each is mapped to one column (CSV) or tag (TensorBoard).
struct ColumnMap {
  std::string loss;  ///< training loss (per step when the log has a step column, else per epoch)
  std::string val_loss;
  std::string lr;
  std::string step;
  std::string epoch;
  std::string accuracy;  ///< training accuracy
  std::string val_accuracy;
};

/// One optimiser step of the training curve.
struct StepRow {
  int64_t step = 0;
  std::optional<int64_t> epoch;
  double loss = 0;
  std::optional<double> lr, accuracy;
};

/// One epoch's figures (any of them may be absent).
struct EpochRow {
  int64_t epoch = 0;
  std::optional<int64_t> step;  ///< the step the epoch ended at, when the log says
  std::optional<double> train_loss, val_loss, train_accuracy, val_accuracy, lr;
};

struct LogData {
  std::string path;                    ///< the file read (or the files, joined by " + ")
  LogFormat format = LogFormat::Auto;  ///< the format it was read as
  std::vector<StepRow> steps;          ///< per-step training rows, in file order
  std::vector<EpochRow> epochs;
  std::vector<std::string> columns_seen;       ///< every column or tag in the file
  std::map<std::string, std::string> columns;  ///< role (loss, val_loss, ...) → column or tag used
  /// What the reader noticed and the report should say (a last row without its newline).
  std::vector<std::string> notes;
};

}  // namespace lossdoctor::logs
