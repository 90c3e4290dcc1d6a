// lossdoctor-bench: the fault zoo scoreboard.
//
//   lossdoctor-bench zoo [--seeds N] [--filter GLOB] [--jobs N] [--budget N] [--cases DIR]
//                        [--out FILE] [--update-docs FILE] [--require-correct]
//                        [--effects FILE] [--cli PATH]
//
// --cli PATH runs another lossdoctor binary (e.g. a frozen copy while the tree is rebuilt).
//
// Runs `lossdoctor diagnose` on every case of bench/zoo/cases (ground truth in each file's
// "# truth:" / "# accept:" header) and the Monitor loop bugs of examples/cpp/custom_loop, for
// several seeds, in parallel child processes, and scores the reports: detection recall, false
// alarms, top-1/top-3 accuracy, steps and seconds until the right cause first reached the top,
// and a confusion table. Exit status: 0, or 1 with --require-correct when any run's top cause
// is wrong (the CI subset), 2 on bad arguments.
//
// --effects FILE trains every spec case (no probes) for the budget with seed 0 next to the
// healthy base case `ok-example`, and writes their final training loss and validation accuracy
// to FILE: the evidence that each fault really changes training (make_cases.py copies it into
// each case's header).

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
  bool control() const { return truth == "healthy"; }
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
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<Case> load_cases(const std::string& dir, const std::string& filter) {
  std::vector<Case> cases;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  const std::regex truth_re("^# truth: *(\\S+)"), accept_re("^# accept: *(.*)$");
  for (const auto& f : files) {
    Case c;
    c.id = f.stem().string();
    c.spec = f.string();
    std::ifstream in(f);
    std::string line;
    std::smatch m;
    while (std::getline(in, line) && !line.empty() && line[0] == '#') {
      if (std::regex_search(line, m, truth_re)) c.truth = m[1];
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
  for (auto [id, bug, truth] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"loop-no-zero-grad", "no-zero-grad", "gradients_not_reset"},
           {"loop-wrong-params", "wrong-params", "params_not_updated"},
           {"loop-negated-loss", "negated-loss", "loss_sign_flipped"},
           {"loop-healthy", "none", "healthy"}}) {
    Case c;
    c.id = id;
    c.loop_bug = bug;
    c.truth = truth;
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
  for (const auto& f : j["findings"]) run.causes.push_back(f.value("cause", ""));
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

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

int usage() {
  std::cerr
      << "usage: lossdoctor-bench zoo [--seeds N] [--filter GLOB[,GLOB]] [--jobs N] [--budget N]\n"
         "                            [--cases DIR] [--out FILE] [--update-docs FILE] "
         "[--require-correct]\n"
         "                            [--effects FILE] [--cli PATH]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "zoo") return usage();
  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string cases_dir = (fs::path(LOSSDOCTOR_SOURCE_DIR) / "bench/zoo/cases").string();
  std::string filter,
      out_path = (fs::path(LOSSDOCTOR_SOURCE_DIR) / "bench/results/zoo.json").string();
  std::string docs_path;
  std::string cli = LOSSDOCTOR_CLI_PATH, custom_loop = LOSSDOCTOR_CUSTOM_LOOP_PATH;
  int seeds = 3, jobs = 2, budget = 0;
  bool require_correct = false;
  std::string effects_path;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(usage());
      return argv[++i];
    };
    try {
      if (a == "--seeds")
        seeds = std::stoi(value());
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
      else if (a == "--help" || a == "-h")
        return usage() == 2 ? 0 : 0;
      else
        return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (seeds < 1 || jobs < 1 || budget < 0) return usage();
  std::vector<Case> cases = load_cases(cases_dir, filter);
  const bool effects = !effects_path.empty();
  if (effects) {
    cases.erase(
        std::remove_if(cases.begin(), cases.end(), [](const Case& c) { return c.spec.empty(); }),
        cases.end());
    seeds = 1;
  }
  if (cases.empty()) {
    std::cerr << "no case matches '" << filter << "'\n";
    return 2;
  }
  const fs::path tmp = fs::temp_directory_path() / fmt::format("lossdoctor-zoo-{}", ::getpid());
  fs::create_directories(tmp);

  std::vector<Run> runs;
  for (const auto& c : cases) {
    for (int s = 0; s < seeds; ++s) {
      Run r;
      r.c = &c;
      r.seed = s;
      r.json_path = (tmp / fmt::format("{}-{}.json", c.id, s)).string();
      runs.push_back(r);
    }
  }
  std::cerr << fmt::format("zoo: {} cases × {} seeds = {} runs, {} at a time\n", cases.size(),
                           seeds, runs.size(), jobs);
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
                (tmp / r.c->id).string()};
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
      std::ifstream in(tmp / r.c->id / "summary.json");
      try {
        r.summary = json::parse(in);
        r.ok = true;
      } catch (const std::exception& e) {
        r.error = "no summary";
      }
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
    std::cerr << fmt::format(
        "[{}/{}] {:<34} seed {}  {:<26} {}  {} steps  {:.1f} s\n", done, runs.size(), r.c->id,
        r.seed, r.ok ? top : r.error,
        r.ok ? (r.c->correct(top) ? "ok" : "WRONG (truth " + r.c->truth + ")") : "", r.steps_run,
        r.wall);
  }
  const double total_wall = now() - t0;
  fs::remove_all(tmp);
  if (effects) {
    json out = json::object();
    for (const auto& r : runs) {
      json e{{"truth", r.c->truth}, {"error", r.error}};
      if (r.ok) {
        for (const char* k : {"status", "steps", "train_loss", "val_loss", "val_accuracy"}) {
          e[k] = r.summary.contains(k) ? r.summary[k] : json();
        }
      }
      out[r.c->id] = e;
    }
    std::ofstream(effects_path) << out.dump(2) << "\n";
    std::cerr << "wrote " << effects_path << "\n";
    return 0;
  }

  // Score.
  int faults = 0, detected = 0, controls = 0, alarms = 0, top1 = 0, top3 = 0, fault_runs_ok = 0;
  std::vector<double> steps_to, secs_to;
  std::map<std::string, std::map<std::string, int>> confusion;
  json per_case = json::array();
  std::map<std::string, std::vector<const Run*>> by_case;
  for (const auto& r : runs) by_case[r.c->id].push_back(&r);
  bool all_correct = true;
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
      }
      seeds_json.push_back(
          {{"seed", r->seed},
           {"verdict", r->verdict},
           {"causes", r->causes},
           {"steps_run", r->steps_run},
           {"seconds", r->seconds},
           {"steps_to_correct", r->steps_to_correct ? json(*r->steps_to_correct) : json()},
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
      "| wall time of the whole run | {:.1f} min ({} jobs) | < 45 min |\n",
      faults / seeds, seeds, faults, controls, recall, false_alarms, alarms, controls, t1, t3,
      med_steps, p90_steps, med_secs, p90_secs, total_wall / 60, jobs);
  std::string cases_md = "| case | truth | top cause per seed | right |\n|---|---|---|---|\n";
  for (const auto& c : cases) {
    std::string tops;
    int right = 0;
    for (const Run* r : by_case[c.id]) {
      const std::string top = r->causes.empty() ? "(error)" : r->causes.front();
      tops += (tops.empty() ? "" : ", ") + top;
      right += r->ok && !r->causes.empty() && c.correct(top);
    }
    cases_md +=
        fmt::format("| {} | {} | {} | {}/{} |\n", c.id, c.truth, tops, right, by_case[c.id].size());
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

  json result{{"date",
               [] {
                 char buf[32];
                 const std::time_t t = std::time(nullptr);
                 std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
                 return std::string(buf);
               }()},
              {"seeds", seeds},
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
              {"confusion", confusion},
              {"cases", per_case}};
  if (!out_path.empty()) {
    fs::create_directories(fs::path(out_path).parent_path());
    const std::string tmp_out = out_path + ".tmp";
    std::ofstream(tmp_out) << result.dump(2) << "\n";
    fs::rename(tmp_out, out_path);
    std::cerr << "wrote " << out_path << "\n";
  }
  if (!docs_path.empty()) {
    std::ifstream in(docs_path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    const std::string begin = "<!-- zoo:begin -->", end = "<!-- zoo:end -->";
    std::string cmd = "lossdoctor-bench zoo";
    for (int i = 2; i < argc; ++i) cmd += std::string(" ") + argv[i];
    const std::string section = begin + "\n" +
                                fmt::format("Measured {} with `build/bench/{}`.\n\n",
                                            result["date"].get<std::string>(), cmd) +
                                table + "\n" + cases_md +
                                "\nConfusion (rows: truth, columns: top cause):\n\n" +
                                confusion_md + end;
    const size_t b = doc.find(begin), e = doc.find(end);
    if (b != std::string::npos && e != std::string::npos) {
      doc.replace(b, e + end.size() - b, section);
    } else {
      doc += "\n## Fault zoo scoreboard\n\n" + section + "\n";
    }
    const std::string tmp_doc = docs_path + ".tmp";
    std::ofstream(tmp_doc) << doc;
    fs::rename(tmp_doc, docs_path);
    std::cerr << "updated " << docs_path << "\n";
  }
  return require_correct && !all_correct ? 1 : 0;
}
