// lossdoctor-bench: the fault zoo scoreboard.
//
//   lossdoctor-bench zoo [--seeds N] [--control-seeds N] [--filter GLOB] [--jobs N] [--budget N]
//                        [--cases DIR] [--out FILE] [--update-docs FILE] [--require-correct]
//                        [--effects FILE] [--cli PATH] [--keep-reports DIR]
//                        [--repair [--baseline-accuracy X]]
//
// --keep-reports DIR writes each run's report (diagnose/repair JSON, repaired spec, --effects
// training folder) into DIR, created if needed, and leaves it there; by default they go to a
// temporary folder removed at the end. A report lands as its run finishes, so an interrupted
// scoring keeps the runs it finished.
// --cli PATH runs another lossdoctor binary (e.g. a frozen copy while the tree is rebuilt).
// --control-seeds N runs the healthy controls at N seeds and the fault cases at --seeds
// (default: N = --seeds). --first-seed K starts every case's seeds at K instead of 0 (K, K+1,
// ...): the seeds a frozen CLI has not scored yet, to add to an earlier scoring.
//
// --cases DIR scores another case directory (default bench/zoo/cases; the held-out zoo is
// bench/zoo-heldout/cases). Each case is compared with its healthy twin: the case named by its
// "# twin: ID" header line (default ok-example). An optional DIR/zoo.conf holds `key: value`
// lines: `make-data: COMMAND...` is run in DIR before anything else (e.g. to generate the data
// the cases read; it must be idempotent), `loop-cases: no` leaves out the Monitor loop bugs
// (which are part of bench/zoo). Cases whose id starts with `hard-` are scored on a line of their
// own as well (top-1 / top-3 accuracy of the hard group).
//
// Runs `lossdoctor diagnose` on every case of bench/zoo/cases (ground truth in each file's
// "# truth:" / "# accept:" header) and the Monitor loop bugs of examples/cpp/custom_loop, for
// several seeds, in parallel child processes, and scores the reports: detection recall, false
// alarms, top-1/top-3 accuracy, steps and seconds until the right cause first reached the top,
// a confusion table, and the counterfactual confirmation (diagnose confirms by default): whether
// the true cause (or an accepted alternative) came back `confirmed`, controls with any confirmed
// finding, and the confirmation's cost relative to the diagnosis run. Exit status: 0, or 1 with
// --require-correct when any run's top cause is wrong (the CI subset), 2 on bad arguments.
//
// --repair runs `lossdoctor repair CASE --max-steps B` on every spec case instead (B = --budget,
// default 300: the budget of effects.json and the case headers) and scores repair success: the
// last round healthy and the repaired spec's validation accuracy at least 90% of the healthy
// baseline's (ok-example in effects.json, or --baseline-accuracy), over the fault cases that a
// spec change can fix (a case header "# fixable: no (reason)" takes a case out, and the Monitor
// loop bugs have no spec); plus repair time relative to one plain training run. Writes
// bench/results/zoo-repair.json and the docs section between <!-- zoo-repair:begin/end -->.
//
// A case header "# nproc: N" makes a data-parallel case (issue 15): it is diagnosed (and, for
// --effects, trained) with --nproc N, so it takes N processes of its own (--jobs counts it as
// one); --repair leaves it out (`repair` has no --nproc).
//
// --effects FILE trains every spec case (no probes) for the budget with seed 0 next to its
// healthy twin (added to the runs when --filter leaves it out), and writes their final training
// loss and validation accuracy to FILE: the evidence that each fault really changes training
// (make_cases.py copies it into each case's header). Exit status 1 when a run failed.
// --repair compares each case's repaired accuracy with its own twin's in the effects file next
// to the case directory (DIR/../effects.json), unless --baseline-accuracy is given.

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  std::string id;
  std::string spec;      ///< path, or empty for a loop case
  std::string loop_bug;  ///< custom_loop --bug value for loop cases
  std::string truth;
  std::vector<std::string> accept;
  std::string twin = "ok-example";  ///< the healthy case of the same data set ("# twin:")
  bool explicit_twin = false;       ///< the header names the twin
  bool fixable = true;              ///< a spec change can remove the fault
  std::string unfixable_reason;     ///< why not, when !fixable
  int nproc = 1;  ///< "# nproc: N": a data-parallel case, diagnosed and trained with --nproc N
  bool control() const { return truth == "healthy"; }
  bool hard() const { return id.rfind("hard-", 0) == 0; }
  bool correct(const std::string& cause) const {
    return cause == truth || std::find(accept.begin(), accept.end(), cause) != accept.end();
  }
};

struct Run {
  const Case* c = nullptr;
  int seed = 0;
  std::string json_path;
  pid_t pid = -1;
  double started = 0;
  // results
  bool ok = false;
  std::string error;
  std::string verdict;
  std::vector<std::string> causes;
  int64_t steps_run = 0;
  double seconds = 0;
  double wall = 0;
  std::optional<int64_t> steps_to_correct;
  json summary;  ///< --effects: the training run's summary.json
  // confirmation (diagnose reports)
  std::vector<std::string> statuses;  ///< per finding, parallel to causes
  std::vector<std::string> symptoms;  ///< the report's symptom ids (which runs sat at chance)
  std::optional<double> cost_ratio;   ///< confirmation.cost_ratio when any arm ran
  int arms = 0;                       ///< confirmation arms run
  // --repair
  json repair;  ///< the repair report
};

/// Status of the first finding naming the true cause (or an accepted one): "confirmed",
/// "suspected", "refuted", or "absent".
std::string truth_status(const Run& r) {
  std::string best = "absent";
  for (size_t i = 0; i < r.causes.size(); ++i) {
    if (!r.c->correct(r.causes[i])) continue;
    const std::string st = i < r.statuses.size() ? r.statuses[i] : "";
    if (st == "confirmed") return st;
    if (best == "absent") best = st.empty() ? "suspected" : st;
  }
  return best;
}

/// Causes confirmed in a report that are not the truth.
std::vector<std::string> other_confirmed(const Run& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.causes.size() && i < r.statuses.size(); ++i)
    if (r.statuses[i] == "confirmed" && !r.c->correct(r.causes[i])) out.push_back(r.causes[i]);
  return out;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// The settings of a case directory: DIR/zoo.conf, `key: value` lines (`#` comments).
struct CaseDirConfig {
  std::vector<std::string> make_data;  ///< command run in the case directory first (words)
  bool loop_cases = true;              ///< add the Monitor loop bugs
};

CaseDirConfig read_case_dir_config(const std::string& dir) {
  CaseDirConfig conf;
  const fs::path path = fs::path(dir) / "zoo.conf";
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    const std::string key = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    if (key == "make-data" && !value.empty()) {
      std::stringstream ss(value);
      std::string word;
      while (ss >> word) conf.make_data.push_back(word);
    } else if (key == "loop-cases" && (value == "yes" || value == "no")) {
      conf.loop_cases = value == "yes";
    } else {
      std::cerr << path.string() << ":" << number << ": expected 'make-data: COMMAND' or "
                << "'loop-cases: yes|no', got '" << line << "'\n";
      std::exit(2);
    }
  }
  return conf;
}

/// Runs `args` (looked up in PATH) in directory `dir`, its output on our stderr; exit status.
int run_in_dir(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(2, 1);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<Case> load_cases(const std::string& dir, const std::string& filter,
                             bool loop_cases = true) {
  std::vector<Case> cases;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  const std::regex truth_re("^# truth: *(\\S+)"), twin_re("^# twin: *(\\S+)"),
      accept_re("^# accept: *(.*)$"), fixable_re("^# fixable: *no\\b *\\(?([^)]*)\\)?"),
      nproc_re("^# nproc: *([0-9]+)");
  for (const auto& f : files) {
    Case c;
    c.id = f.stem().string();
    // Absolute: lossdoctor resolves data paths against the spec's directory, and a relative spec
    // path with a relative data.path resolves a folder split's path twice (issue 12).
    c.spec = fs::absolute(f).string();
    std::ifstream in(f);
    std::string line;
    std::smatch m;
    while (std::getline(in, line) && !line.empty() && line[0] == '#') {
      if (std::regex_search(line, m, truth_re)) c.truth = m[1];
      if (std::regex_search(line, m, nproc_re)) c.nproc = std::max(1, std::stoi(m[1].str()));
      if (std::regex_search(line, m, twin_re)) {
        c.twin = m[1];
        c.explicit_twin = true;
      }
      if (std::regex_search(line, m, fixable_re)) {
        c.fixable = false;
        c.unfixable_reason = m[1].str().empty() ? "marked not fixable" : m[1].str();
      }
      if (std::regex_search(line, m, accept_re)) {
        std::stringstream ss(m[1].str());
        std::string item;
        while (std::getline(ss, item, ',')) {
          item.erase(0, item.find_first_not_of(' '));
          item.erase(item.find_last_not_of(' ') + 1);
          if (!item.empty()) c.accept.push_back(item);
        }
      }
    }
    if (c.truth.empty()) {
      std::cerr << f.string() << ": no '# truth:' line\n";
      std::exit(2);
    }
    cases.push_back(std::move(c));
  }
  // Loop bugs a spec cannot express, through the C++ Monitor.
  using LoopCase = std::tuple<std::string, std::string, std::string>;
  for (auto [id, bug, truth] :
       loop_cases
           ? std::vector<LoopCase>{{"loop-no-zero-grad", "no-zero-grad", "gradients_not_reset"},
                                   {"loop-wrong-params", "wrong-params", "params_not_updated"},
                                   {"loop-negated-loss", "negated-loss", "loss_sign_flipped"},
                                   {"loop-healthy", "none", "healthy"}}
           : std::vector<LoopCase>{}) {
    Case c;
    c.id = id;
    c.loop_bug = bug;
    c.truth = truth;
    c.fixable = false;
    c.unfixable_reason = "a bug in the training-loop code (C++ Monitor API): no spec to change";
    cases.push_back(c);
  }
  if (!filter.empty()) {
    std::vector<Case> kept;
    std::stringstream ss(filter);
    std::vector<std::string> globs;
    std::string g;
    while (std::getline(ss, g, ',')) globs.push_back(g);
    for (auto& c : cases) {
      for (const auto& glob : globs) {
        if (fnmatch(glob.c_str(), c.id.c_str(), 0) == 0) {
          kept.push_back(c);
          break;
        }
      }
    }
    cases = std::move(kept);
  }
  return cases;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

void read_result(Run& run) {
  std::ifstream in(run.json_path);
  if (!in) {
    run.error = "no report written";
    return;
  }
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    run.error = std::string("bad report: ") + e.what();
    return;
  }
  run.ok = true;
  run.verdict = j.value("verdict", "");
  for (const auto& f : j["findings"]) {
    run.causes.push_back(f.value("cause", ""));
    run.statuses.push_back(f.value("status", ""));
  }
  if (j.contains("symptoms") && j["symptoms"].is_array()) {
    for (const auto& s : j["symptoms"]) run.symptoms.push_back(s.value("id", ""));
  }
  if (j.contains("confirmation") && j["confirmation"].is_object()) {
    const json& conf = j["confirmation"];
    run.arms = conf.contains("arms") ? static_cast<int>(conf["arms"].size()) : 0;
    if (run.arms > 0 && conf.contains("cost_ratio") && conf["cost_ratio"].is_number())
      run.cost_ratio = conf["cost_ratio"].get<double>();
  }
  run.steps_run = j.value("steps_run", 0);
  run.seconds = j.value("seconds", 0.0);
  if (!run.causes.empty() && run.c->correct(run.causes.front())) {
    run.steps_to_correct = run.steps_run;
    if (j.contains("timeline")) {
      for (const auto& t : j["timeline"]) {
        if (run.c->correct(t.value("cause", ""))) {
          run.steps_to_correct = t.value("step", run.steps_run);
          break;
        }
      }
    }
  }
}

void read_repair(Run& run) {
  std::ifstream in(run.json_path);
  if (!in) {
    run.error = "no report written";
    return;
  }
  try {
    run.repair = json::parse(in);
  } catch (const std::exception& e) {
    run.error = std::string("bad report: ") + e.what();
    return;
  }
  run.ok = true;
  run.verdict = run.repair.value("verdict", "");
  run.seconds = run.repair.value("seconds", 0.0);
}

/// A number from a JSON object, NaN when absent or null.
double number(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

/// A healthy baseline's validation accuracy: case `twin` in the effects table (NaN if absent).
double baseline_accuracy(const std::string& effects_path, const std::string& twin = "ok-example") {
  std::ifstream in(effects_path);
  if (!in) return NAN;
  try {
    const json j = json::parse(in);
    return j.contains(twin) ? number(j[twin], "val_accuracy") : NAN;
  } catch (const std::exception&) {
    return NAN;
  }
}

/// Replaces the text between `begin` and `end` markers in a docs file (appends `heading` and
/// the section when the markers are missing).
void update_docs(const std::string& docs_path, const std::string& begin, const std::string& end,
                 const std::string& heading, const std::string& body) {
  std::ifstream in(docs_path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  const std::string section = begin + "\n" + body + end;
  const size_t b = doc.find(begin), e = doc.find(end);
  if (b != std::string::npos && e != std::string::npos) {
    doc.replace(b, e + end.size() - b, section);
  } else {
    doc += "\n" + heading + "\n\n" + section + "\n";
  }
  const std::string tmp_doc = docs_path + ".tmp";
  std::ofstream(tmp_doc) << doc;
  fs::rename(tmp_doc, docs_path);
  std::cerr << "updated " << docs_path << "\n";
}

/// Writes `j` to `path` through a temporary file and a rename, creating its directory.
void write_json_atomic(const std::string& path, const json& j) {
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << j.dump(2) << "\n";
  fs::rename(tmp, path);
  std::cerr << "wrote " << path << "\n";
}

/// "lossdoctor-bench zoo ARGS…" as it was invoked, for the docs.
std::string command_line(int argc, char** argv) {
  std::string cmd = "lossdoctor-bench zoo";
  for (int i = 2; i < argc; ++i) cmd += std::string(" ") + argv[i];
  return cmd;
}

std::string today() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

std::string pct_text(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.1f}%", v); }
std::string ratio_text(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.2f}", v); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

int usage() {
  std::cerr << "usage: lossdoctor-bench zoo [--seeds N] [--control-seeds N] [--first-seed K]\n"
               "                            [--filter GLOB[,GLOB]]\n"
               "                            [--jobs N] [--budget N]\n"
               "                            [--cases DIR] [--out FILE] [--update-docs FILE] "
               "[--require-correct]\n"
               "                            [--effects FILE] [--cli PATH] [--keep-reports DIR]\n"
               "                            [--repair [--baseline-accuracy X]]\n";
  return 2;
}

std::string shorten(const std::string& text, size_t most) {
  return text.size() <= most ? text : text.substr(0, most - 3) + "...";
}

/// Top finding of a report as "cause (status)".
std::string top_finding(const json& report) {
  if (!report.is_object() || !report.contains("findings") || report["findings"].empty())
    return "none";
  const json& f = report["findings"][0];
  return fmt::format("{} ({})", f.value("cause", "?"), f.value("status", "?"));
}

/// Scores the repair reports, prints and writes them. Returns the exit status.
int score_repair(const std::vector<Case>& cases, const std::vector<Run>& runs, int seeds, int jobs,
                 int budget, const std::map<std::string, double>& baseline_by_twin, bool loop_cases,
                 double total_wall, const std::string& filter, const std::string& out_path,
                 const std::string& docs_path, int argc, char** argv) {
  // Each case is held to 90% of its own twin's accuracy; one twin (bench/zoo) keeps one number.
  const auto baseline_of = [&](const Case& c) {
    const auto it = baseline_by_twin.find(c.twin);
    return it == baseline_by_twin.end() ? NAN : it->second;
  };
  std::map<std::string, double> twins_used;
  for (const auto& c : cases) twins_used[c.twin] = baseline_of(c);
  const double baseline_acc = twins_used.size() == 1 ? twins_used.begin()->second : NAN;
  const double target_acc = 0.9 * baseline_acc;
  std::string baseline_md =
      fmt::format("{} → ≥ {}", pct_text(100 * baseline_acc), pct_text(100 * target_acc));
  json baseline_json = baseline_acc, target_json = target_acc;
  if (twins_used.size() > 1) {
    baseline_md = "each case's twin:";
    baseline_json = json::object();
    target_json = json::object();
    for (const auto& [twin, acc] : twins_used) {
      baseline_md +=
          fmt::format(" {} {} → ≥ {};", twin, pct_text(100 * acc), pct_text(100 * 0.9 * acc));
      baseline_json[twin] = acc;
      target_json[twin] = 0.9 * acc;
    }
    baseline_md.pop_back();
  }
  int fixable_runs = 0, successes = 0, healthy_runs = 0, accurate_runs = 0, control_runs = 0,
      controls_unchanged = 0;
  std::vector<double> time_ratios, repair_seconds;
  json per_run = json::array();
  std::string runs_md =
      "| case | truth | seed | round 1 top (status) | edits | last verdict | val acc before → "
      "after | success | time × plain run | stop reason |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Run& r : runs) {
    const Case& c = *r.c;
    const json& rep = r.repair;
    const json before = r.ok ? rep.value("before", json()) : json();
    const json after = r.ok ? rep.value("after", json()) : json();
    const double acc_before = number(before, "val_accuracy");
    const double acc_after = number(after, "val_accuracy");
    const double ratio = r.ok ? number(rep, "time_vs_plain_run") : NAN;
    const bool healthy = r.ok && r.verdict == "healthy";
    const double case_target = 0.9 * baseline_of(c);
    const bool accurate =
        !std::isnan(acc_after) && !std::isnan(case_target) && acc_after >= case_target;
    const bool success = healthy && accurate;
    std::vector<std::string> edits;
    if (r.ok && rep.contains("edits")) {
      for (const auto& e : rep["edits"])
        edits.push_back(e.value("key", "") + "=" + e.value("value", ""));
    }
    std::string first_top = "-";
    if (r.ok && rep.contains("rounds") && !rep["rounds"].empty())
      first_top = top_finding(rep["rounds"][0].value("report", json()));
    const std::string stop = r.ok ? rep.value("stop_reason", "") : r.error;
    if (c.control()) {
      ++control_runs;
      if (healthy && edits.empty()) ++controls_unchanged;
    } else {
      if (!std::isnan(ratio)) time_ratios.push_back(ratio);
      if (r.ok) repair_seconds.push_back(r.seconds);
      if (c.fixable) {
        ++fixable_runs;
        successes += success;
        healthy_runs += healthy;
        accurate_runs += accurate;
      }
    }
    std::string edits_md;
    for (size_t i = 0; i < edits.size() && i < 4; ++i) {
      // Exclude files live in a scratch directory: their name says enough.
      std::string e = edits[i];
      const size_t eq = e.find('=');
      if (eq != std::string::npos && e.compare(eq + 1, 1, "/") == 0)
        e = e.substr(0, eq + 1) + fs::path(e.substr(eq + 1)).filename().string();
      edits_md += (edits_md.empty() ? "`" : ", `") + shorten(e, 48) + "`";
    }
    if (edits.size() > 4) edits_md += fmt::format(" and {} more", edits.size() - 4);
    const std::string success_md = c.control()
                                       ? (healthy && edits.empty() ? "unchanged" : "CHANGED")
                                   : !c.fixable ? "(not fixable)"
                                   : success    ? "yes"
                                   : !healthy   ? "no: still unhealthy"
                                                : "no: accuracy below target";
    runs_md +=
        fmt::format("| {} | {} | {} | {} | {} | {} | {} → {} | {} | {} | {} |\n", c.id, c.truth,
                    r.seed, first_top, edits_md.empty() ? "—" : edits_md,
                    r.ok ? r.verdict : "(error)", pct_text(100 * acc_before),
                    pct_text(100 * acc_after), success_md, ratio_text(ratio), shorten(stop, 90));
    per_run.push_back({{"case", c.id},
                       {"truth", c.truth},
                       {"seed", r.seed},
                       {"fixable", c.fixable},
                       {"verdict", r.verdict},
                       {"success", success},
                       {"round1_top", first_top},
                       {"edits", edits},
                       {"rounds", r.ok && rep.contains("rounds") ? rep["rounds"].size() : 0},
                       {"stop_reason", stop},
                       {"before", before},
                       {"after", after},
                       {"seconds", r.seconds},
                       {"time_vs_plain_run", std::isnan(ratio) ? json() : json(ratio)},
                       {"error", r.error}});
  }
  json unfixable = json::array();
  std::string unfixable_md =
      loop_cases ? "- loop-no-zero-grad, loop-wrong-params, loop-negated-loss: a bug in the "
                   "training-loop code (C++ Monitor API), no spec to change (not run here)\n"
                 : "";
  for (const auto& c : cases) {
    if (c.control() || c.fixable) continue;
    unfixable.push_back({{"case", c.id}, {"reason", c.unfixable_reason}});
    unfixable_md += fmt::format("- {}: {}\n", c.id, c.unfixable_reason);
  }
  const auto pct = [](int a, int b) { return b > 0 ? 100.0 * a / b : NAN; };
  const double success_rate = pct(successes, fixable_runs);
  const double med_ratio = quantile(time_ratios, 0.5), p90_ratio = quantile(time_ratios, 0.9);
  const std::string table = fmt::format(
      "| metric | value | target |\n|---|---|---|\n"
      "| fixable fault cases × seeds | {} × {} = {} runs | |\n"
      "| fault cases not fixable by a spec change | {}{}, listed below | |\n"
      "| **repair success**: last round healthy and val accuracy ≥ 90% of the healthy "
      "baseline ({}) | {} ({} of {}) | ≥ 90% (AUTOTRAINER: 98% on its own benchmark) |\n"
      "| last round healthy | {} ({} of {}) | |\n"
      "| repaired val accuracy ≥ 90% of baseline | {} ({} of {}) | |\n"
      "| healthy controls left unchanged (healthy, no edit) | {} of {} | all |\n"
      "| repair time / one plain training run of the same budget, fault cases: median / p90 | "
      "{} / {} | |\n"
      "| repair seconds, fault cases: median / p90 | {:.1f} / {:.1f} | |\n"
      "| wall time of the whole run | {:.1f} min ({} jobs, budget {} steps) | |\n",
      fixable_runs / seeds, seeds, fixable_runs, unfixable.size(),
      loop_cases ? " (+ 3 loop bugs)" : "", baseline_md, pct_text(success_rate), successes,
      fixable_runs, pct_text(pct(healthy_runs, fixable_runs)), healthy_runs, fixable_runs,
      pct_text(pct(accurate_runs, fixable_runs)), accurate_runs, fixable_runs, controls_unchanged,
      control_runs, ratio_text(med_ratio), ratio_text(p90_ratio), quantile(repair_seconds, 0.5),
      quantile(repair_seconds, 0.9), total_wall / 60, jobs, budget);
  std::cout << table << "\nnot fixable by a spec change:\n" << unfixable_md << "\n" << runs_md;
  json result{{"date", today()},
              {"mode", "repair"},
              {"seeds", seeds},
              {"jobs", jobs},
              {"filter", filter},
              {"budget", budget},
              {"baseline_accuracy", baseline_json},
              {"target_accuracy", target_json},
              {"fixable_runs", fixable_runs},
              {"successes", successes},
              {"success_rate", success_rate},
              {"healthy_rate", pct(healthy_runs, fixable_runs)},
              {"accuracy_rate", pct(accurate_runs, fixable_runs)},
              {"control_runs", control_runs},
              {"controls_unchanged", controls_unchanged},
              {"median_time_vs_plain_run", med_ratio},
              {"p90_time_vs_plain_run", p90_ratio},
              {"wall_minutes", total_wall / 60},
              {"unfixable", unfixable},
              {"runs", per_run}};
  if (!out_path.empty()) write_json_atomic(out_path, result);
  if (!docs_path.empty()) {
    const std::string cmd = command_line(argc, argv);
    update_docs(docs_path, "<!-- zoo-repair:begin -->", "<!-- zoo-repair:end -->",
                "## Repair on the fault zoo",
                fmt::format("Measured {} with `build/bench/{}`.\n\n", today(), cmd) + table +
                    "\nNot fixable by a spec change (left out of the success rate):\n\n" +
                    unfixable_md + "\n" + runs_md);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "zoo") return usage();
  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string cases_dir = (fs::path(LOSSDOCTOR_SOURCE_DIR) / "bench/zoo/cases").string();
  std::string filter, out_path;
  std::string docs_path;
  bool repair = false;
  std::optional<double> baseline_override;
  std::string cli = LOSSDOCTOR_CLI_PATH, custom_loop = LOSSDOCTOR_CUSTOM_LOOP_PATH;
  int seeds = 3, jobs = 2, budget = 0, control_seeds = 0, first_seed = 0;
  bool require_correct = false;
  std::string effects_path, keep_reports;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(usage());
      return argv[++i];
    };
    try {
      if (a == "--seeds")
        seeds = std::stoi(value());
      else if (a == "--control-seeds")
        control_seeds = std::stoi(value());
      else if (a == "--first-seed")
        first_seed = std::stoi(value());
      else if (a == "--filter")
        filter = value();
      else if (a == "--jobs")
        jobs = std::stoi(value());
      else if (a == "--budget")
        budget = std::stoi(value());
      else if (a == "--cases")
        cases_dir = value();
      else if (a == "--out")
        out_path = value();
      else if (a == "--update-docs")
        docs_path = value();
      else if (a == "--require-correct")
        require_correct = true;
      else if (a == "--effects")
        effects_path = value();
      else if (a == "--cli")
        cli = value();
      else if (a == "--keep-reports")
        keep_reports = value();
      else if (a == "--repair")
        repair = true;
      else if (a == "--baseline-accuracy")
        baseline_override = std::stod(value());
      else if (a == "--help" || a == "-h") {
        usage();  // the usage text, but asked for: exit status 0
        return 0;
      } else
        return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (control_seeds == 0) control_seeds = seeds;
  if (seeds < 1 || control_seeds < 1 || jobs < 1 || budget < 0 || first_seed < 0) return usage();
  const bool effects = !effects_path.empty();
  if (effects && repair) return usage();
  if (out_path.empty()) {
    out_path = (fs::path(LOSSDOCTOR_SOURCE_DIR) /
                (repair ? "bench/results/zoo-repair.json" : "bench/results/zoo.json"))
                   .string();
  }
  if (!fs::is_directory(cases_dir)) {
    std::cerr << cases_dir << ": not a directory of zoo cases\n";
    return 2;
  }
  {
    fs::path dir = fs::absolute(cases_dir).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // a trailing '/'
    cases_dir = dir.string();
  }
  const CaseDirConfig dir_conf = read_case_dir_config(cases_dir);
  if (!dir_conf.make_data.empty()) {
    std::string cmd;
    for (const auto& w : dir_conf.make_data) cmd += (cmd.empty() ? "" : " ") + w;
    const int code = run_in_dir(dir_conf.make_data, cases_dir);
    if (code != 0) {
      std::cerr << fmt::format("{}/zoo.conf: make-data '{}' failed (exit status {})\n", cases_dir,
                               cmd, code);
      return 2;
    }
  }
  std::vector<Case> cases = load_cases(cases_dir, filter, dir_conf.loop_cases);
  if (effects || repair) {
    cases.erase(
        std::remove_if(cases.begin(), cases.end(), [](const Case& c) { return c.spec.empty(); }),
        cases.end());
  }
  if (repair) {  // `lossdoctor repair` has no --nproc: data-parallel cases are diagnosed only
    cases.erase(
        std::remove_if(cases.begin(), cases.end(), [](const Case& c) { return c.nproc > 1; }),
        cases.end());
  }
  if (effects || repair) {
    if (effects) seeds = control_seeds = 1;
  }
  if (effects && !filter.empty()) {
    // Every case is measured beside its twin: add the twins the filter left out.
    std::set<std::string> have;
    for (const auto& c : cases) have.insert(c.id);
    for (const auto& c : load_cases(cases_dir, "", false)) {
      if (have.count(c.id) == 0 &&
          std::any_of(cases.begin(), cases.end(), [&](const Case& k) { return k.twin == c.id; })) {
        cases.push_back(c);
        have.insert(c.id);
      }
    }
  }
  // Repair: each case's target is 90% of its twin's accuracy in DIR/../effects.json.
  std::map<std::string, double> baseline_by_twin;
  const std::string effects_table = (fs::path(cases_dir).parent_path() / "effects.json").string();
  for (const auto& c : cases) {
    baseline_by_twin[c.twin] =
        baseline_override ? *baseline_override : baseline_accuracy(effects_table, c.twin);
  }
  if (cases.empty()) {
    std::cerr << "no case matches '" << filter << "'\n";
    return 2;
  }
  // Each run's report goes here: a temporary folder removed at the end, or --keep-reports DIR.
  const fs::path reports_dir =
      keep_reports.empty()
          ? fs::temp_directory_path() / fmt::format("lossdoctor-zoo-{}", ::getpid())
          : fs::path(keep_reports);
  {
    std::error_code ec;
    fs::create_directories(reports_dir, ec);
    if (ec || !fs::is_directory(reports_dir)) {
      std::cerr << fmt::format("{}: cannot create the reports folder ({})\n", reports_dir.string(),
                               ec ? ec.message() : "not a directory");
      return 2;
    }
  }

  std::vector<Run> runs;
  for (const auto& c : cases) {
    for (int s = first_seed; s < first_seed + (c.control() ? control_seeds : seeds); ++s) {
      Run r;
      r.c = &c;
      r.seed = s;
      r.json_path = (reports_dir / fmt::format("{}-{}.json", c.id, s)).string();
      runs.push_back(r);
    }
  }
  if (control_seeds == seeds) {
    std::cerr << fmt::format("zoo: {} cases × {} seeds = {} runs, {} at a time\n", cases.size(),
                             seeds, runs.size(), jobs);
  } else {
    std::cerr << fmt::format(
        "zoo: {} cases (fault cases × {} seeds, controls × {} seeds) = {} runs, {} at a time\n",
        cases.size(), seeds, control_seeds, runs.size(), jobs);
  }
  const double t0 = now();
  size_t next = 0, done = 0;
  std::map<pid_t, size_t> running;
  while (done < runs.size()) {
    while (running.size() < static_cast<size_t>(jobs) && next < runs.size()) {
      Run& r = runs[next];
      std::vector<std::string> args;
      if (effects) {
        args = {cli,
                "--threads",
                "1",
                "train",
                r.c->spec,
                "--max-steps",
                std::to_string(budget > 0 ? budget : 300),
                "--quiet",
                "--out",
                (reports_dir / r.c->id).string()};
        if (r.c->nproc > 1) {
          args.push_back("--nproc");
          args.push_back(std::to_string(r.c->nproc));
        }
      } else if (repair) {
        args = {cli,
                "--threads",
                "1",
                "repair",
                r.c->spec,
                "--set",
                fmt::format("seed={}", r.seed),
                "-o",
                (reports_dir / fmt::format("{}-{}-repaired.yaml", r.c->id, r.seed)).string(),
                "--json",
                r.json_path,
                "--max-steps",
                std::to_string(budget > 0 ? budget : 300),
                "--quiet"};
      } else if (!r.c->loop_bug.empty()) {
        args = {custom_loop, "--bug",    r.c->loop_bug, "--seed", std::to_string(r.seed),
                "--json",    r.json_path};
      } else {
        args = {cli,
                "--threads",
                "1",
                "diagnose",
                r.c->spec,
                "--set",
                fmt::format("seed={}", r.seed),
                "--json",
                r.json_path,
                "--quiet"};
        if (budget > 0) {
          args.push_back("--budget-steps");
          args.push_back(std::to_string(budget));
        }
        if (r.c->nproc > 1) {  // a data-parallel case: its ranks are processes of their own
          args.push_back("--nproc");
          args.push_back(std::to_string(r.c->nproc));
        }
      }
      r.started = now();
      r.pid = spawn(args);
      if (r.pid < 0) {
        r.error = "cannot start " + args[0];
        ++done;
      } else {
        running[r.pid] = next;
      }
      ++next;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) break;
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    Run& r = runs[it->second];
    running.erase(it);
    r.wall = now() - r.started;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (effects && (code == 0 || code == 1)) {
      std::ifstream in(reports_dir / r.c->id / "summary.json");
      try {
        r.summary = json::parse(in);
        r.ok = true;
      } catch (const std::exception& e) {
        r.error = "no summary";
      }
    } else if (repair && (code == 0 || code == 1)) {
      read_repair(r);
    } else if (code == 0 || code == 1) {
      read_result(r);
    } else {
      r.error = fmt::format("exit status {}", code);
    }
    ++done;
    const std::string top = effects ? "" : r.causes.empty() ? "-" : r.causes.front();
    if (effects) {
      std::cerr << fmt::format("[{}/{}] {:<34} {}\n", done, runs.size(), r.c->id,
                               r.ok ? "trained" : r.error);
      continue;
    }
    if (repair) {
      std::cerr << fmt::format(
          "[{}/{}] {:<34} seed {}  {:<9} {} edit(s)  val acc {} → {}  {:.1f} s\n", done,
          runs.size(), r.c->id, r.seed, r.ok ? r.verdict : r.error,
          r.ok ? r.repair.value("edits", json::array()).size() : 0,
          pct_text(100 * number(r.repair.value("before", json()), "val_accuracy")),
          pct_text(100 * number(r.repair.value("after", json()), "val_accuracy")), r.wall);
      continue;
    }
    std::cerr << fmt::format(
        "[{}/{}] {:<34} seed {}  {:<26} {}  {} steps  {:.1f} s\n", done, runs.size(), r.c->id,
        r.seed, r.ok ? top : r.error,
        r.ok ? (r.c->correct(top) ? "ok" : "WRONG (truth " + r.c->truth + ")") : "", r.steps_run,
        r.wall);
  }
  const double total_wall = now() - t0;
  if (keep_reports.empty()) {
    fs::remove_all(reports_dir);
  } else {
    std::cerr << fmt::format("zoo: reports kept in {}\n", reports_dir.string());
  }
  if (repair) {
    return score_repair(cases, runs, seeds, jobs, budget > 0 ? budget : 300, baseline_by_twin,
                        dir_conf.loop_cases, total_wall, filter, out_path, docs_path, argc, argv);
  }
  if (effects) {
    json out = json::object();
    bool all_trained = true;
    for (const auto& r : runs) {
      json e{{"truth", r.c->truth}, {"error", r.error}};
      if (r.c->explicit_twin) e["twin"] = r.c->twin;
      all_trained = all_trained && r.ok;
      if (r.ok) {
        for (const char* k : {"status", "steps", "train_loss", "val_loss", "val_accuracy"}) {
          e[k] = r.summary.contains(k) ? r.summary[k] : json();
        }
      }
      out[r.c->id] = e;
    }
    std::ofstream(effects_path) << out.dump(2) << "\n";
    std::cerr << "wrote " << effects_path << "\n";
    return all_trained ? 0 : 1;
  }

  // Score.
  int faults = 0, detected = 0, controls = 0, alarms = 0, top1 = 0, top3 = 0, fault_runs_ok = 0;
  int hard_runs = 0, hard_top1 = 0, hard_top3 = 0;  // the `hard-*` group
  std::vector<double> steps_to, secs_to;
  std::map<std::string, std::map<std::string, int>> confusion;
  json per_case = json::array();
  std::map<std::string, std::vector<const Run*>> by_case;
  for (const auto& r : runs) by_case[r.c->id].push_back(&r);
  bool all_correct = true;
  // Confirmation: spec fault runs (the loop bugs have no spec to rerun, data-parallel cases are
  // not confirmed), controls, cost.
  int confirmable = 0, truth_confirmed = 0, control_runs_confirmed = 0, over_budget = 0;
  std::vector<double> cost_ratios;
  for (const auto& c : cases) {
    int c_top1 = 0, c_top3 = 0, c_detect = 0;
    json seeds_json = json::array();
    for (const Run* r : by_case[c.id]) {
      const std::string top = r->causes.empty() ? "(error)" : r->causes.front();
      confusion[c.truth][top]++;
      const bool right = r->ok && !r->causes.empty() && c.correct(top);
      bool in_top3 = false;
      for (size_t k = 0; k < r->causes.size() && k < 3; ++k)
        in_top3 = in_top3 || c.correct(r->causes[k]);
      if (!right) all_correct = false;
      if (c.control()) {
        ++controls;
        if (r->verdict != "healthy") ++alarms;
      } else {
        ++faults;
        if (r->verdict == "unhealthy") ++detected, ++c_detect;
        if (right) {
          ++top1, ++c_top1, ++fault_runs_ok;
          if (r->steps_to_correct) {
            steps_to.push_back(static_cast<double>(*r->steps_to_correct));
            secs_to.push_back(r->steps_run > 0
                                  ? r->seconds * static_cast<double>(*r->steps_to_correct) /
                                        r->steps_run
                                  : r->seconds);
          }
        }
        if (in_top3) ++top3, ++c_top3;
        if (c.hard()) {
          ++hard_runs;
          hard_top1 += right;
          hard_top3 += in_top3;
        }
        if (!c.spec.empty()) {  // data-parallel cases too: their reruns train on every rank
          ++confirmable;
          truth_confirmed += truth_status(*r) == "confirmed";
        }
      }
      if (c.control() &&
          std::find(r->statuses.begin(), r->statuses.end(), "confirmed") != r->statuses.end())
        ++control_runs_confirmed;
      if (r->cost_ratio) {
        cost_ratios.push_back(*r->cost_ratio);
        over_budget += *r->cost_ratio > 2.0;
      }
      seeds_json.push_back(
          {{"seed", r->seed},
           {"verdict", r->verdict},
           {"causes", r->causes},
           {"steps_run", r->steps_run},
           {"seconds", r->seconds},
           {"steps_to_correct", r->steps_to_correct ? json(*r->steps_to_correct) : json()},
           {"statuses", r->statuses},
           {"symptoms", r->symptoms},
           {"truth_status", c.control() ? json() : json(truth_status(*r))},
           {"other_confirmed", other_confirmed(*r)},
           {"confirmation_arms", r->arms},
           {"cost_ratio", r->cost_ratio ? json(*r->cost_ratio) : json()},
           {"error", r->error}});
    }
    per_case.push_back(
        {{"case", c.id}, {"truth", c.truth}, {"accept", c.accept}, {"runs", seeds_json}});
  }
  const auto pct = [](int a, int b) { return b > 0 ? 100.0 * a / b : NAN; };
  const double recall = pct(detected, faults), false_alarms = pct(alarms, controls);
  const double t1 = pct(top1, faults), t3 = pct(top3, faults);
  const double med_steps = quantile(steps_to, 0.5), p90_steps = quantile(steps_to, 0.9);
  const double med_secs = quantile(secs_to, 0.5), p90_secs = quantile(secs_to, 0.9);
  const double confirmed_rate = pct(truth_confirmed, confirmable);
  const double med_cost = quantile(cost_ratios, 0.5), p90_cost = quantile(cost_ratios, 0.9);
  const double max_cost = quantile(cost_ratios, 1.0);

  std::string table = fmt::format(
      "| metric | value | target |\n|---|---|---|\n"
      "| fault cases × seeds | {} × {} = {} runs | |\n"
      "| healthy controls × seeds | {} runs | |\n"
      "| detection recall (verdict unhealthy) | {:.1f}% | ≥ 95% |\n"
      "| false alarms on controls | {:.1f}% ({} of {}) | 0 |\n"
      "| top-1 cause accuracy | {:.1f}% | ≥ 85% |\n"
      "| top-3 cause accuracy | {:.1f}% | ≥ 95% |\n"
      "| steps until the right cause is on top: median / p90 | {:.0f} / {:.0f} | median ≤ 300 |\n"
      "| seconds until then: median / p90 | {:.1f} / {:.1f} | |\n"
      "| true cause `confirmed` by a rerun (spec fault cases, data-parallel ones included; loop "
      "bugs have no spec) | {} ({} "
      "of {}) | ≥ 90% |\n"
      "| controls with a `confirmed` finding | {} of {} | 0 |\n"
      "| confirmation cost / diagnosis run (runs with reruns): median / p90 / max | {} / {} / {} "
      "({} of {} over 2×) | ≤ 2× |\n"
      "| wall time of the whole run | {:.1f} min ({} jobs) | < 45 min |\n",
      faults / seeds, seeds, faults, controls, recall, false_alarms, alarms, controls, t1, t3,
      med_steps, p90_steps, med_secs, p90_secs, pct_text(confirmed_rate), truth_confirmed,
      confirmable, control_runs_confirmed, controls, ratio_text(med_cost), ratio_text(p90_cost),
      ratio_text(max_cost), over_budget, cost_ratios.size(), total_wall / 60, jobs);
  const double hard_t1 = pct(hard_top1, hard_runs), hard_t3 = pct(hard_top3, hard_runs);
  if (hard_runs > 0) {
    // The hard group (effects 2-3x smaller than the first zoo's) on a line of its own, after the
    // overall top-3 line (the overall numbers include it).
    const std::string after = "| top-3 cause accuracy |";
    const size_t at = table.find('\n', table.find(after)) + 1;
    table.insert(at, fmt::format("| hard cases (`hard-*`, {} runs): top-1 / top-3 cause accuracy | "
                                 "{:.1f}% / {:.1f}% | |\n",
                                 hard_runs, hard_t1, hard_t3));
  }
  std::string cases_md =
      "| case | truth | top cause per seed | right | truth status per seed (confirmed instead) | "
      "cost ratio per seed |\n|---|---|---|---|---|---|\n";
  for (const auto& c : cases) {
    std::string tops, statuses, costs;
    int right = 0;
    for (const Run* r : by_case[c.id]) {
      const std::string top = r->causes.empty() ? "(error)" : r->causes.front();
      tops += (tops.empty() ? "" : ", ") + top;
      right += r->ok && !r->causes.empty() && c.correct(top);
      std::string st;
      const std::vector<std::string> others = other_confirmed(*r);
      if (!c.spec.empty() && !c.control()) st = truth_status(*r);
      std::string instead;
      for (const auto& o : others) instead += (instead.empty() ? "" : " ") + o;
      if (!instead.empty())
        st += (st.empty() ? "confirmed: " : " (") + instead + (st.empty() ? "" : ")");
      if (st.empty()) st = "—";
      statuses += (statuses.empty() ? "" : ", ") + st;
      costs += (costs.empty() ? "" : ", ") + (r->cost_ratio ? ratio_text(*r->cost_ratio) : "—");
    }
    cases_md += fmt::format("| {} | {} | {} | {}/{} | {} | {} |\n", c.id, c.truth, tops, right,
                            by_case[c.id].size(), statuses, costs);
  }
  std::set<std::string> predicted;
  for (const auto& [t, row] : confusion) {
    for (const auto& [p, n] : row) predicted.insert(p);
  }
  std::string confusion_md = "| truth \\ predicted |";
  for (const auto& p : predicted) confusion_md += " " + p + " |";
  confusion_md += "\n|---|";
  for (size_t i = 0; i < predicted.size(); ++i) confusion_md += "---|";
  confusion_md += "\n";
  for (const auto& [t, row] : confusion) {
    confusion_md += "| " + t + " |";
    for (const auto& p : predicted) {
      const auto it = row.find(p);
      confusion_md += it == row.end() ? " |" : fmt::format(" {} |", it->second);
    }
    confusion_md += "\n";
  }
  std::cout << table << "\n"
            << cases_md << "\nconfusion (rows: truth, columns: top cause):\n"
            << confusion_md;

  json result{{"date", today()},
              {"seeds", seeds},
              {"first_seed", first_seed},
              {"jobs", jobs},
              {"filter", filter},
              {"budget", budget},
              {"recall", recall},
              {"false_alarm_rate", false_alarms},
              {"top1", t1},
              {"top3", t3},
              {"median_steps_to_correct", med_steps},
              {"p90_steps_to_correct", p90_steps},
              {"median_seconds_to_correct", med_secs},
              {"p90_seconds_to_correct", p90_secs},
              {"wall_minutes", total_wall / 60},
              {"confirmation",
               {{"truth_confirmed_rate", confirmed_rate},
                {"truth_confirmed", truth_confirmed},
                {"fault_runs_with_spec", confirmable},
                {"control_runs_with_confirmed_finding", control_runs_confirmed},
                {"control_runs", controls},
                {"runs_with_reruns", cost_ratios.size()},
                {"median_cost_ratio", med_cost},
                {"p90_cost_ratio", p90_cost},
                {"max_cost_ratio", max_cost},
                {"runs_over_2x", over_budget}}},
              {"confusion", confusion},
              {"cases", per_case}};
  if (control_seeds != seeds) result["control_seeds"] = control_seeds;
  if (hard_runs > 0) result["hard"] = {{"runs", hard_runs}, {"top1", hard_t1}, {"top3", hard_t3}};
  if (!out_path.empty()) write_json_atomic(out_path, result);
  if (!docs_path.empty()) {
    const std::string cmd = command_line(argc, argv);
    update_docs(docs_path, "<!-- zoo:begin -->", "<!-- zoo:end -->", "## Fault zoo scoreboard",
                fmt::format("Measured {} with `build/bench/{}`.\n\n", today(), cmd) + table + "\n" +
                    cases_md + "\nConfusion (rows: truth, columns: top cause):\n\n" + confusion_md);
  }
  return require_correct && !all_correct ? 1 : 0;
}
