#include "lossdoctor/doctor/repair.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "lossdoctor/experiment/lr_find.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/atomic_file.hpp"
#include "lossdoctor/util/clock.hpp"
#include "lossdoctor/util/interrupt.hpp"

namespace lossdoctor::doctor {
namespace {

namespace fs = std::filesystem;
std::string shorten(const std::string& text, size_t most) {
  return text.size() <= most ? text : text.substr(0, most - 1) + "…";
}

/// The confirmation arm that confirmed `cause`, if any.
const report::ConfirmationArm* confirming_arm(const report::Report& r, const std::string& cause) {
  if (!r.confirmation) return nullptr;
  for (const auto& arm : r.confirmation->arms) {
    if (arm.status != "confirmed") continue;
    if (std::find(arm.causes.begin(), arm.causes.end(), cause) != arm.causes.end()) return &arm;
  }
  return nullptr;
}

/// The range test's rate when it moves the rate the way the cause says; otherwise `fix` as is.
std::map<std::string, std::string> refine_lr_fix(const spec::Spec& spec, const std::string& cause,
                                                 std::map<std::string, std::string> fix,
                                                 const data::Dataset& dataset,
                                                 const RepairOptions& options) {
  if ((cause != "lr_too_high" && cause != "lr_too_low") || !fix.count("optimizer.lr")) return fix;
  experiment::LrFindOptions lo;
  lo.dataset = &dataset;
  lo.warn = options.warn;
  const experiment::LrFindResult found = experiment::lr_find(spec, lo);
  if (!found.suggested_lr) return fix;
  const double suggested = *found.suggested_lr;
  const double current = spec.optimizer.lr;
  const bool agrees = cause == "lr_too_high" ? suggested < current : suggested > current;
  if (!agrees) return fix;
  for (const auto& [k, v] : lr_fix(found, spec)) fix[k] = v;
  if (options.log) {
    options.log(fmt::format("  range test: lr {} → {} ({})", current, fix["optimizer.lr"],
                            shorten(found.reason, 100)));
  }
  return fix;
}

TrainingOutcome train_for_budget(const spec::Spec& spec, const data::Dataset* dataset,
                                 const RepairOptions& options) {
  // Wall time from loading the data on: what one plain `lossdoctor train` costs its user.
  const auto start = Clock::now();
  train::TrainOptions to;
  to.progress = options.progress;
  to.dataset = dataset;
  to.stop_on_nonfinite = true;
  if (options.final_max_steps > 0) to.max_steps = options.final_max_steps;
  train::Trainer trainer(spec, to, options.warn);
  const train::TrainResult r = trainer.run();
  TrainingOutcome out;
  out.steps = r.steps;
  out.seconds = seconds_since(start);
  for (const auto& s : trainer.steps()) out.loss_curve.push_back(s.loss);
  out.status = r.status == train::RunStatus::NonFiniteLoss ? "non-finite loss"
               : r.status == train::RunStatus::Interrupted ? "interrupted"
                                                           : "completed";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (r.last_epoch) {
    out.train_loss = r.last_epoch->train_loss;
    out.val_loss = r.last_epoch->val_loss;
    out.val_accuracy = trainer.dataset().val.size() > 0 ? r.last_epoch->val_accuracy : nan;
  } else {
    out.train_loss = trainer.steps().empty() ? nan : trainer.steps().back().loss;
    if (trainer.dataset().val.size() > 0) {
      const auto [loss, accuracy] = trainer.evaluate();
      out.val_loss = loss;
      out.val_accuracy = accuracy;
    } else {
      out.val_loss = out.val_accuracy = nan;
    }
  }
  return out;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }

nlohmann::json outcome_to_json(const TrainingOutcome& o) {
  return {{"steps", o.steps},
          {"seconds", o.seconds},
          {"train_loss", number_or_null(o.train_loss)},
          {"val_loss", number_or_null(o.val_loss)},
          {"val_accuracy", number_or_null(o.val_accuracy)},
          {"status", o.status}};
}

}  // namespace

RepairResult repair(const std::string& spec_path, const std::vector<std::string>& overrides,
                    const RepairOptions& options) {
  const auto start = Clock::now();
  const auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  RepairResult res;
  res.spec = spec_path;
  const spec::Spec original = spec::parse_spec_file(spec_path, overrides);

  // Exclude files (dropped samples) live next to the repaired spec, so it can be moved with them.
  std::string work_dir;
  if (!options.out_path.empty()) {
    // Absolute: data.train.exclude is read relative to data.path otherwise.
    const fs::path out = fs::absolute(options.out_path);
    work_dir = (out.parent_path() / (out.stem().string() + ".files")).string();
  }

  std::vector<std::string> current = overrides;
  // Data each round loaded, kept for the final trainings so nothing is decoded twice.
  std::optional<data::Dataset> original_data, last_data;
  std::vector<std::string> last_overrides;
  std::set<std::string> applied;  // "key=value" already applied once
  for (int round = 0; round < options.max_rounds; ++round) {
    if (interrupt_requested()) {
      res.interrupted = true;
      res.stop_reason = "interrupted";
      break;
    }
    const spec::Spec spec = spec::parse_spec_file(spec_path, current);
    log(fmt::format("round {}: diagnosing{}", round + 1,
                    res.edits.empty() ? " the original spec"
                                      : fmt::format(" with {} fix(es) applied", res.edits.size())));
    const data::Dataset dataset = data::load_dataset(spec.data, spec.seed, options.warn);
    if (round == 0) original_data = dataset;  // shallow: the tensors are shared, never written
    last_data = dataset;
    last_overrides = current;
    DiagnoseOptions dopts = options.diagnose;
    dopts.dataset = &dataset;
    experiment::ConfirmOptions copts = options.confirm;
    copts.work_dir = work_dir;
    if (!work_dir.empty()) fs::create_directories(work_dir);
    DiagnoseAndConfirm dc = diagnose_and_confirm(spec, dopts, copts, true, options.warn);
    RepairRound rr;
    rr.overrides = current;
    rr.report = dc.report;
    rr.record = std::move(dc.record);
    if (dc.interrupted) {
      res.rounds.push_back(std::move(rr));
      res.interrupted = true;
      res.stop_reason = "interrupted";
      break;
    }
    const report::Report& r = rr.report;
    const std::string top = r.findings.empty() ? "healthy" : r.findings.front().cause;
    log(fmt::format("  verdict {}, top cause {} ({})", r.verdict, top,
                    r.findings.empty() ? "" : r.findings.front().status));
    if (r.verdict == "healthy") {
      res.healthy = true;
      res.stop_reason = round == 0 ? "the run is healthy: nothing to repair"
                                   : fmt::format("the run is healthy after {} round(s)", round);
      res.rounds.push_back(std::move(rr));
      break;
    }
    std::map<std::string, spec::SpecEdit> edits;
    for (const auto& f : r.findings) {
      if (f.status != "confirmed") continue;
      const report::ConfirmationArm* arm = confirming_arm(r, f.cause);
      std::map<std::string, std::string> fix = f.fix;
      if (arm && !arm->fix.empty()) fix = arm->fix;
      if (fix.empty()) continue;
      if (options.lr_find) fix = refine_lr_fix(spec, f.cause, fix, dataset, options);
      const std::string why =
          arm ? fmt::format("fixes {} (confirmed: {})", f.cause, shorten(arm->reason, 80))
              : fmt::format("fixes {} (confirmed)", f.cause);
      for (const auto& [k, v] : fix) {
        if (!edits.count(k)) edits[k] = spec::SpecEdit{k, v, why};
      }
    }
    if (edits.empty()) {
      res.stop_reason = fmt::format("no confirmed fix left (top cause {}: {})", top,
                                    r.findings.empty() ? "none" : r.findings.front().status);
      res.rounds.push_back(std::move(rr));
      break;
    }
    bool anything_new = false;
    for (const auto& [k, e] : edits) anything_new |= !applied.count(k + "=" + e.value);
    if (!anything_new) {
      res.stop_reason = "the confirmed fixes were already applied once and did not cure the run";
      res.rounds.push_back(std::move(rr));
      break;
    }
    for (const auto& [k, e] : edits) {
      log(fmt::format("  apply --set {}={}  ({})", k, e.value, e.reason));
      current.push_back(k + "=" + e.value);
      applied.insert(k + "=" + e.value);
      // A later fix of the same key replaces the earlier one in the written spec.
      res.edits.erase(
          std::remove_if(res.edits.begin(), res.edits.end(),
                         [&key = k](const spec::SpecEdit& old) { return old.key == key; }),
          res.edits.end());
      res.edits.push_back(e);
      rr.applied.push_back(e);
    }
    res.rounds.push_back(std::move(rr));
    if (round + 1 == options.max_rounds) {
      res.stop_reason = fmt::format("stopped after {} rounds", options.max_rounds);
    }
  }

  if (!res.edits.empty() && !options.out_path.empty()) {
    write_file_atomic(options.out_path,
                      spec::render_edited_spec(spec_path, overrides, res.edits, options.out_path));
    res.out_path = options.out_path;
    log(fmt::format("wrote {}", options.out_path));
  }
  if (options.final_training && !res.interrupted) {
    log("training the original spec for the budget");
    res.before = train_for_budget(original, original_data ? &*original_data : nullptr, options);
    res.plain_run_seconds = res.before->seconds;
    if (!res.edits.empty() && !interrupt_requested()) {
      log("training the repaired spec for the budget");
      // The last round's data serves when no fix came after it touched what is loaded.
      const bool same_data = last_data && last_overrides == current;
      res.after = train_for_budget(spec::parse_spec_file(spec_path, current),
                                   same_data ? &*last_data : nullptr, options);
    } else if (res.edits.empty()) {
      res.after = res.before;
    }
    res.interrupted = interrupt_requested();
  }
  res.seconds = seconds_since(start);
  return res;
}

nlohmann::json to_json(const RepairResult& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& round : r.rounds) {
    nlohmann::json applied = nlohmann::json::array();
    for (const auto& e : round.applied) {
      applied.push_back({{"key", e.key}, {"value", e.value}, {"reason", e.reason}});
    }
    rounds.push_back({{"overrides", round.overrides},
                      {"report", report::to_json(round.report)},
                      {"applied", applied}});
  }
  nlohmann::json edits = nlohmann::json::array();
  for (const auto& e : r.edits) {
    edits.push_back({{"key", e.key}, {"value", e.value}, {"reason", e.reason}});
  }
  nlohmann::json out{
      {"command", "repair"},
      {"spec", r.spec},
      {"verdict", r.healthy ? "healthy" : "unhealthy"},
      {"stop_reason", r.stop_reason},
      {"repaired_spec", r.out_path.empty() ? nlohmann::json() : nlohmann::json(r.out_path)},
      {"edits", edits},
      {"rounds", rounds},
      {"seconds", r.seconds},
      {"plain_run_seconds", r.plain_run_seconds},
      {"interrupted", r.interrupted}};
  out["time_vs_plain_run"] =
      r.plain_run_seconds > 0 ? nlohmann::json(r.seconds / r.plain_run_seconds) : nlohmann::json();
  out["before"] = r.before ? outcome_to_json(*r.before) : nlohmann::json();
  out["after"] = r.after ? outcome_to_json(*r.after) : nlohmann::json();
  return out;
}

std::string render_text(const RepairResult& r, bool color) {
  const auto bold = [&](const std::string& s) { return color ? "\033[1m" + s + "\033[0m" : s; };
  std::string out =
      bold(fmt::format("repair {}: {}", r.spec, r.healthy ? "healthy" : "not healthy")) + "\n";
  for (size_t i = 0; i < r.rounds.size(); ++i) {
    const auto& rep = r.rounds[i].report;
    std::string top = "healthy";
    if (!rep.findings.empty()) {
      top = fmt::format("{} ({:.2f}, {})", rep.findings.front().cause,
                        rep.findings.front().confidence, rep.findings.front().status);
    }
    out += fmt::format("round {}: {} in {} steps, top cause {}\n", i + 1, rep.verdict,
                       rep.steps_run, top);
    for (const auto& e : r.rounds[i].applied) {
      out += fmt::format("  --set {}={}   # {}\n", e.key, e.value, e.reason);
    }
  }
  out += fmt::format("stopped: {}\n", r.stop_reason);
  const auto figures = [](const TrainingOutcome& o) {
    return fmt::format("train loss {:.4f}, val accuracy {}  ({} steps, {:.1f} s{})", o.train_loss,
                       std::isfinite(o.val_accuracy) ? fmt::format("{:.2f}%", 100 * o.val_accuracy)
                                                     : std::string("n/a"),
                       o.steps, o.seconds, o.status == "completed" ? "" : ", " + o.status);
  };
  if (r.before) out += "before: " + figures(*r.before) + "\n";
  if (r.after && !r.edits.empty()) out += "after:  " + figures(*r.after) + "\n";
  if (!r.out_path.empty()) out += fmt::format("repaired spec: {}\n", r.out_path);
  if (r.plain_run_seconds > 0) {
    out += fmt::format("repair took {:.1f} s = {:.1f}× one plain training run\n", r.seconds,
                       r.seconds / r.plain_run_seconds);
  }
  return out;
}

}  // namespace lossdoctor::doctor
