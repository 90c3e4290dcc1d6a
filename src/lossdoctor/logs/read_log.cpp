#include "lossdoctor/logs/read_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "lossdoctor/logs/tfrecord.hpp"
#include "lossdoctor/util/crc32c.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {

namespace fs = std::filesystem;

LogFormat parse_log_format(const std::string& name) {
  if (name == "auto") return LogFormat::Auto;
  if (name == "keras") return LogFormat::Keras;
  if (name == "lightning") return LogFormat::Lightning;
  if (name == "tensorboard") return LogFormat::TensorBoard;
  if (name == "lossdoctor") return LogFormat::Lossdoctor;
  throw InputError(fmt::format(
      "--format '{}': expected auto, keras, lightning, tensorboard or lossdoctor", name));
}

std::string log_format_name(LogFormat format) {
  switch (format) {
    case LogFormat::Keras:
      return "keras";
    case LogFormat::Lightning:
      return "lightning";
    case LogFormat::TensorBoard:
      return "tensorboard";
    case LogFormat::Lossdoctor:
      return "lossdoctor";
    default:
      return "auto";
  }
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

struct Role {
  const char* name;  ///< role key in LogData::columns
  const char* flag;  ///< the CLI flag that maps it
  std::string ColumnMap::*field;
  std::vector<std::string> spellings;  ///< lower case, in order of preference
  std::vector<std::string> prefixes;   ///< lower case
};

const std::vector<Role>& roles() {
  static const std::vector<Role> r = {
      {"loss",
       "--loss-column",
       &ColumnMap::loss,
       {"loss", "train_loss", "train_loss_step", "training_loss", "train/loss", "loss/train",
        "batch_loss", "train_loss_epoch", "epoch_loss"},
       {}},
      {"val_loss",
       "--val-loss-column",
       &ColumnMap::val_loss,
       {"val_loss", "validation_loss", "valid_loss", "val/loss", "loss/val", "loss/validation",
        "validation/loss", "val_loss_epoch", "epoch_val_loss"},
       {}},
      {"lr",
       "--lr-column",
       &ColumnMap::lr,
       {"lr", "learning_rate", "learning-rate", "epoch_learning_rate", "epoch_lr", "train/lr"},
       {"lr-", "lr_", "lr/"}},
      {"step", "--step-column", &ColumnMap::step, {"step", "global_step", "iteration", "iter"}, {}},
      {"epoch", "--epoch-column", &ColumnMap::epoch, {"epoch", "epochs"}, {}},
      {"accuracy",
       "--accuracy-column",
       &ColumnMap::accuracy,
       {"accuracy", "acc", "train_acc", "train_accuracy", "train_acc_step", "train_accuracy_step",
        "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy", "train/accuracy",
        "accuracy/train", "train_acc_epoch", "epoch_accuracy"},
       {}},
      {"val_accuracy",
       "--val-accuracy-column",
       &ColumnMap::val_accuracy,
       {"val_accuracy", "val_acc", "val_categorical_accuracy", "val_sparse_categorical_accuracy",
        "val_binary_accuracy", "valid_acc", "validation_accuracy", "val/accuracy", "accuracy/val",
        "val_acc_epoch", "epoch_val_accuracy"},
       {}},
  };
  return r;
}

/// A number from a cell: nullopt when empty; nan/inf are values.
std::optional<double> number(const std::string& cell, const std::string& where,
                             const std::string& column) {
  const std::string t = trim(cell);
  if (t.empty()) return std::nullopt;
  const char* begin = t.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0') {
    throw InputError(fmt::format("{}: column '{}': '{}' is not a number", where, column,
                                 t.size() > 40 ? t.substr(0, 40) + "..." : t));
  }
  return v;  // ERANGE: ±HUGE_VAL or a denormal, both meaningful
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  cells.push_back(cur);
  return cells;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path, "cannot open the file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path, "cannot read the file");
  return text;
}

bool looks_like_tfrecord(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t head[12];
  if (!in.read(reinterpret_cast<char*>(head), 12)) return false;
  uint32_t stored = 0;
  for (int i = 3; i >= 0; --i) stored = (stored << 8) | head[8 + i];
  return masked_crc32c(head, 8) == stored;
}

bool is_events_file(const fs::path& p) {
  return p.filename().string().rfind("events.out.tfevents", 0) == 0;
}

/// Fills step rows' missing lr from lr points logged in rows of their own (Lightning's
/// LearningRateMonitor): the last point at or before the step, else the first one.
void attach_lr(std::vector<StepRow>& steps, std::vector<std::pair<int64_t, double>> points) {
  if (points.empty()) return;
  std::stable_sort(points.begin(), points.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& s : steps) {
    if (s.lr) continue;
    auto it = std::upper_bound(points.begin(), points.end(), s.step,
                               [](int64_t v, const auto& p) { return v < p.first; });
    s.lr = it == points.begin() ? points.front().second : std::prev(it)->second;
  }
}

void require_training_loss(const LogData& log) {
  const bool any =
      !log.steps.empty() || std::any_of(log.epochs.begin(), log.epochs.end(),
                                        [](const EpochRow& e) { return e.train_loss.has_value(); });
  if (!any) {
    throw DataError(log.path, fmt::format("the training-loss column '{}' has no values",
                                          log.columns.count("loss") ? log.columns.at("loss") : ""));
  }
}

LogFormat csv_format_guess(const std::string& path, const ColumnMap& cm) {
  const std::string name = fs::path(path).filename().string();
  if (name == "metrics.csv") return LogFormat::Lightning;
  if (name == "steps.csv" || name == "epochs.csv") return LogFormat::Lossdoctor;
  if (cm.step.empty() && !cm.epoch.empty()) return LogFormat::Keras;
  return LogFormat::Lightning;
}

}  // namespace

ColumnMap detect_columns(const std::vector<std::string>& names, const ColumnMap& overrides,
                         const std::string& source) {
  ColumnMap out;
  std::set<std::string> taken;
  for (const Role& role : roles()) {
    const std::string& wanted = overrides.*role.field;
    if (!wanted.empty()) {
      if (std::find(names.begin(), names.end(), wanted) == names.end()) {
        throw InputError(fmt::format("{}: {} '{}' is not among its columns or tags: {}", source,
                                     role.flag, wanted, join(names)));
      }
      out.*role.field = wanted;
      taken.insert(wanted);
    }
  }
  for (const Role& role : roles()) {
    if (!(out.*role.field).empty()) continue;
    for (const std::string& spelling : role.spellings) {
      for (const std::string& n : names) {
        if (lower(trim(n)) == spelling && !taken.count(n)) {
          out.*role.field = n;
          break;
        }
      }
      if (!(out.*role.field).empty()) break;
    }
    if ((out.*role.field).empty()) {
      for (const std::string& prefix : role.prefixes) {
        for (const std::string& n : names) {
          if (lower(trim(n)).rfind(prefix, 0) == 0 && !taken.count(n)) {
            out.*role.field = n;
            break;
          }
        }
        if (!(out.*role.field).empty()) break;
      }
    }
    if (!(out.*role.field).empty()) taken.insert(out.*role.field);
  }
  if (out.loss.empty()) {
    throw InputError(fmt::format(
        "{}: no training-loss column or tag among: {} (looked for loss, train_loss, "
        "train_loss_step, training_loss, epoch_loss, ...); map one with --loss-column NAME",
        source, join(names)));
  }
  return out;
}

LogData parse_csv_log(const std::string& text, const std::string& path, LogFormat format,
                      const ColumnMap& overrides) {
  // Lines with their 1-based numbers; blank lines are skipped.
  std::vector<std::pair<size_t, std::string>> lines;
  size_t start = 0, number_of_line = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++number_of_line;
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!trim(line).empty()) lines.emplace_back(number_of_line, line);
    start = end + 1;
  }
  if (lines.empty()) throw DataError(path, "empty file (no header, no rows)");
  if (text.find('\0') != std::string::npos) {
    throw DataError(path,
                    "binary data in a CSV log (a TensorBoard file? try --format tensorboard)");
  }
  std::vector<std::string> header = split_csv_line(lines.front().second);
  for (auto& h : header) h = trim(h);
  if (lines.size() < 2) {
    throw DataError(path, fmt::format("no data rows after the header (line {})", lines[0].first));
  }
  const ColumnMap cm = detect_columns(header, overrides, path);
  const auto index_of = [&](const std::string& name) -> int {
    if (name.empty()) return -1;
    return static_cast<int>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const int i_loss = index_of(cm.loss), i_val = index_of(cm.val_loss), i_lr = index_of(cm.lr),
            i_step = index_of(cm.step), i_epoch = index_of(cm.epoch), i_acc = index_of(cm.accuracy),
            i_vacc = index_of(cm.val_accuracy);

  struct Row {
    std::optional<double> loss, val, lr, step, epoch, acc, vacc;
  };
  // Log writers end every row with a newline: a last row without one may have been cut inside
  // its last number (0.4 of 0.4123, 1.5e-0 of 1.5e-05) with every cell present. It is left out
  // (kept, with the note, when it is the only row).
  const size_t last_newline = text.rfind('\n');
  const bool unterminated =
      !trim(text.substr(last_newline == std::string::npos ? 0 : last_newline + 1)).empty();
  std::vector<std::string> notes;
  std::vector<Row> rows;
  for (size_t li = 1; li < lines.size(); ++li) {
    const auto& [line_no, line] = lines[li];
    const std::vector<std::string> cells = split_csv_line(line);
    const std::string where = fmt::format("{}:{}", path, line_no);
    if (cells.size() != header.size()) {
      throw InputError(fmt::format("{}: {} cells, but the header (line {}) has {} columns{}", where,
                                   cells.size(), lines[0].first, header.size(),
                                   li + 1 == lines.size() ? " (file cut short?)" : ""));
    }
    if (unterminated && li + 1 == lines.size()) {
      const bool only_row = lines.size() == 2;
      notes.push_back(fmt::format(
          "{}: the last row has no final newline, so the file may have been cut inside its last "
          "number; {}",
          where, only_row ? "it is the only row and is used as read" : "that row is left out"));
      if (!only_row) break;
    }
    const auto get = [&](int i) -> std::optional<double> {
      if (i < 0) return std::nullopt;
      return number(cells[static_cast<size_t>(i)], where, header[static_cast<size_t>(i)]);
    };
    Row r{get(i_loss), get(i_val), get(i_lr), get(i_step), get(i_epoch), get(i_acc), get(i_vacc)};
    for (const auto* idx : {&r.step, &r.epoch}) {
      if (*idx && !std::isfinite(**idx)) {
        throw InputError(fmt::format("{}: column '{}': a step or epoch must be a finite number",
                                     where, idx == &r.step ? cm.step : cm.epoch));
      }
    }
    rows.push_back(r);
  }

  LogData log;
  log.path = path;
  log.notes = std::move(notes);
  log.columns_seen = header;
  log.format = format == LogFormat::Auto ? csv_format_guess(path, cm) : format;
  for (const Role& role : roles()) {
    if (!(cm.*role.field).empty()) log.columns[role.name] = cm.*role.field;
  }

  // One row per epoch (Keras CSVLogger, epochs.csv, Lightning logging on_epoch only): every row
  // has an epoch and the epochs strictly increase. Otherwise rows are steps.
  bool epoch_table = i_step < 0;
  if (!epoch_table && i_epoch >= 0) {
    epoch_table = true;
    for (size_t i = 0; i < rows.size() && epoch_table; ++i) {
      if (!rows[i].epoch || (i > 0 && !(*rows[i].epoch > *rows[i - 1].epoch))) epoch_table = false;
    }
  }
  const auto to_int = [](const std::optional<double>& v) -> std::optional<int64_t> {
    if (!v) return std::nullopt;
    return static_cast<int64_t>(std::llround(*v));
  };
  if (epoch_table) {
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      EpochRow e;
      e.epoch = r.epoch ? *to_int(r.epoch) : static_cast<int64_t>(i);
      e.step = to_int(r.step);
      e.train_loss = r.loss;
      e.val_loss = r.val;
      e.train_accuracy = r.acc;
      e.val_accuracy = r.vacc;
      e.lr = r.lr;
      log.epochs.push_back(e);
    }
  } else {
    std::vector<std::pair<int64_t, double>> lr_points;
    std::map<int64_t, EpochRow> by_epoch;
    int64_t sequence = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      const int64_t step =
          r.step ? *to_int(r.step) : (log.steps.empty() ? 0 : log.steps.back().step);
      if (r.loss) {
        StepRow s;
        s.step = step;
        s.epoch = to_int(r.epoch);
        s.loss = *r.loss;
        s.lr = r.lr;
        s.accuracy = r.acc;
        log.steps.push_back(s);
      } else if (r.lr) {
        lr_points.emplace_back(step, *r.lr);
      }
      if (r.val || r.vacc) {
        const int64_t key = r.epoch ? *to_int(r.epoch) : sequence++;
        EpochRow& e = by_epoch[key];
        e.epoch = key;
        e.step = step;
        if (r.val) e.val_loss = r.val;
        if (r.vacc) e.val_accuracy = r.vacc;
      }
    }
    attach_lr(log.steps, lr_points);
    for (auto& [k, e] : by_epoch) log.epochs.push_back(e);
  }
  require_training_loss(log);
  return log;
}

LogData read_tensorboard_log(const std::string& path, const ColumnMap& overrides) {
  const std::vector<ScalarEvent> scalars = read_event_scalars(path);
  std::vector<std::string> tags;
  for (const auto& s : scalars) {
    if (std::find(tags.begin(), tags.end(), s.tag) == tags.end()) tags.push_back(s.tag);
  }
  if (scalars.empty()) {
    throw DataError(path, "no scalar summaries in the event file (nothing to diagnose)");
  }
  const ColumnMap cm = detect_columns(tags, overrides, path);
  LogData log;
  log.path = path;
  log.format = LogFormat::TensorBoard;
  log.columns_seen = tags;
  for (const Role& role : roles()) {
    if (!(cm.*role.field).empty()) log.columns[role.name] = cm.*role.field;
  }
  const auto series = [&](const std::string& tag) {
    std::vector<std::pair<int64_t, double>> out;
    if (tag.empty()) return out;
    for (const auto& s : scalars)
      if (s.tag == tag) out.emplace_back(s.step, s.value);
    return out;
  };
  const auto epoch_level = [](const std::string& tag) {
    const std::string t = lower(tag);
    return t.rfind("epoch_", 0) == 0 || (t.size() > 6 && t.substr(t.size() - 6) == "_epoch");
  };
  const auto loss = series(cm.loss), val = series(cm.val_loss), lr = series(cm.lr),
             acc = series(cm.accuracy), vacc = series(cm.val_accuracy), ep = series(cm.epoch);
  const auto epoch_row = [&](size_t i) -> EpochRow& {
    while (log.epochs.size() <= i) {
      EpochRow e;
      e.epoch = static_cast<int64_t>(log.epochs.size());
      log.epochs.push_back(e);
    }
    return log.epochs[i];
  };
  if (epoch_level(cm.loss)) {
    for (size_t i = 0; i < loss.size(); ++i) epoch_row(i).train_loss = loss[i].second;
    for (size_t i = 0; i < lr.size(); ++i) epoch_row(i).lr = lr[i].second;
    for (size_t i = 0; i < acc.size(); ++i) epoch_row(i).train_accuracy = acc[i].second;
  } else {
    for (const auto& [step, value] : loss) {
      StepRow s;
      s.step = step;
      s.loss = value;
      for (const auto& [es, e] : ep)
        if (es <= step) s.epoch = static_cast<int64_t>(std::llround(e));
      for (const auto& [as, a] : acc)
        if (as == step) s.accuracy = a;
      log.steps.push_back(s);
    }
    attach_lr(log.steps, lr);
  }
  for (size_t i = 0; i < val.size(); ++i) {
    epoch_row(i).val_loss = val[i].second;
    if (!epoch_level(cm.val_loss)) epoch_row(i).step = val[i].first;
  }
  for (size_t i = 0; i < vacc.size(); ++i) epoch_row(i).val_accuracy = vacc[i].second;
  require_training_loss(log);
  return log;
}

LogData read_log(const std::string& path, LogFormat format, const ColumnMap& overrides) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(fmt::format("{}: no such file or directory", path));
  fs::path file = path;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> found;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec),
        end;
    for (; it != end && !ec; it.increment(ec)) {
      if (it.depth() > 4) {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      const fs::path p = it->path();
      const std::string name = p.filename().string();
      if (name == "metrics.csv" || name == "steps.csv" || is_events_file(p)) found.push_back(p);
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) {
      throw InputError(fmt::format(
          "{}: no training log in this directory (looked for metrics.csv, steps.csv and "
          "events.out.tfevents.*)",
          path));
    }
    if (found.size() > 1) {
      std::vector<std::string> names;
      for (const auto& f : found) names.push_back(f.string());
      throw InputError(
          fmt::format("{}: holds {} logs ({}): pass one file", path, found.size(), join(names)));
    }
    file = found.front();
  }
  const std::string f = file.string();
  if (format == LogFormat::TensorBoard ||
      (format == LogFormat::Auto && (is_events_file(file) || looks_like_tfrecord(f)))) {
    return read_tensorboard_log(f, overrides);
  }
  LogData log = parse_csv_log(read_text(f), f, format, overrides);
  // lossdoctor's run directory: steps.csv per step, epochs.csv per epoch beside it.
  const fs::path epochs_csv = file.parent_path() / "epochs.csv";
  if (file.filename() == "steps.csv" && fs::is_regular_file(epochs_csv, ec) &&
      (format == LogFormat::Auto || format == LogFormat::Lossdoctor)) {
    const LogData epochs = parse_csv_log(read_text(epochs_csv.string()), epochs_csv.string(),
                                         LogFormat::Lossdoctor, ColumnMap{});
    log.epochs = epochs.epochs;
    log.notes.insert(log.notes.end(), epochs.notes.begin(), epochs.notes.end());
    log.path += " + " + epochs_csv.string();
    log.format = LogFormat::Lossdoctor;
    for (const auto& [role, column] : epochs.columns) {
      if (role == "val_loss" || role == "val_accuracy") log.columns[role] = column;
    }
  }
  return log;
}

}  // namespace lossdoctor::logs
