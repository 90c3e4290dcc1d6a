// --html reports of real runs, rendered by a real browser (Debian's chromium, headless): the
// article's three examples, a healthy run, an audit, a repair, an lr-find sweep, a plain training
// run and a Keras log. Each page must render without a script error and without a single console
// message or uncaught exception (Chromium's log, checked by HtmlInBrowserCheck to see both), draw
// its charts with the right number of series and points, show the report's key numbers in the
// DOM, fit a phone-width viewport, and leave a wide and a narrow screenshot under the build
// folder (build/html-reports/<case>.png, <case>.narrow.png).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/shell_run.hpp"

namespace lossdoctor {
namespace {

namespace fs = std::filesystem;
using test::run_shell;

const fs::path kReports = fs::path(LOSSDOCTOR_CLI_PATH).parent_path() / "html-reports";

std::string chromium() {
  for (const char* candidate : {"chromium", "chromium-browser", "google-chrome"}) {
    if (run_shell(std::string("command -v ") + candidate + " >/dev/null").code == 0)
      return candidate;
  }
  return "";
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// What one headless Chromium run gave back: its exit status, the DOM it dumped (stdout) and
/// every message a page script wrote to the console or threw uncaught.
struct Browsed {
  int code = -1;
  std::string dom;
  std::vector<std::string> console;
};

/// The console lines of a Chromium log (`--enable-logging=stderr --v=0`): every console.log,
/// console.warn, console.error and uncaught exception is one `...:INFO:CONSOLE...` line (all at
/// INFO level, whatever the method). A report writes nothing to the console, so any line fails.
std::vector<std::string> console_lines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
      out.push_back(line);
  }
  return out;
}

/// Chromium, headless, with its own profile (tests run in parallel) and its log on stderr, kept
/// apart from the DOM on stdout; `args` adds the mode (--dump-dom, --screenshot=FILE, both).
Browsed browse(const std::string& name, const fs::path& page, const std::string& args) {
  const fs::path profile = kReports / (name + ".profile");
  const fs::path log = kReports / (name + ".chromium.log");
  const auto run = run_shell("(timeout -s KILL 120 " + chromium() +
                             " --headless=new --no-sandbox --disable-gpu --hide-scrollbars "
                             "--no-first-run --enable-logging=stderr --v=0 --user-data-dir=" +
                             profile.string() + " " + args + " 'file://" + page.string() + "' 2>" +
                             log.string() + ")");
  Browsed b;
  b.code = run.code;
  b.dom = run.out;
  b.console = console_lines(read(log));
  return b;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The console check itself: a page that logs an error and throws must be caught by it (the DOM
// dump alone never shows either). One Chromium launch on a tiny page.
TEST(HtmlInBrowserCheck, SeesConsoleErrorsAndUncaughtExceptions) {
  if (chromium().empty()) GTEST_SKIP() << "no chromium (scripts/install-deps.sh installs it)";
  fs::create_directories(kReports);
  const fs::path page = kReports / "console-check.html";
  {
    std::ofstream out(page);
    out << "<!doctype html><html><body><p>fine</p>"
           "<script>console.error('deliberate console error');</script>"
           "<script>throw new Error('deliberate throw');</script></body></html>\n";
  }
  const Browsed b = browse("console-check", page, "--dump-dom");
  ASSERT_EQ(b.code, 0);
  EXPECT_NE(b.dom.find("<p>fine</p>"), std::string::npos);
  const std::string log = joined(b.console);
  EXPECT_EQ(b.console.size(), 2u) << log;
  EXPECT_NE(log.find("deliberate console error"), std::string::npos) << log;
  EXPECT_NE(log.find("Uncaught Error: deliberate throw"), std::string::npos) << log;
  fs::remove_all(kReports / "console-check.profile");
}

// --html to a folder that does not exist, or to a folder itself: bad input (exit 2) naming the
// option and the path, refused before any data is read or any step is trained.
TEST(HtmlOutput, AnUnwritableHtmlPathIsBadInputBeforeAnyWork) {
  for (const auto& [command, path, says] :
       {std::tuple<std::string, std::string, std::string>{"diagnose examples/fashion-mnist.yaml",
                                                          "/no/such/folder/report.html",
                                                          "folder /no/such/folder does not exist"},
        {"repair examples/fashion-mnist.yaml", kReports.parent_path().string(),
         "is a directory"}}) {
    const auto run =
        run_shell("cd " LOSSDOCTOR_SOURCE_DIR " && timeout -s KILL 60 " +
                  std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 " + command + " --html " + path);
    EXPECT_EQ(run.code, 2) << command << "\n" << run.out;
    EXPECT_NE(run.out.find("--html " + path), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(says), std::string::npos) << run.out;
    EXPECT_EQ(run.out.find("step"), std::string::npos) << "it trained first:\n" << run.out;
  }
}

// "Prints to PDF": a report page (of a small Keras log: no training) printed by Chromium's own
// print path gives a PDF of at least one page with the charts in it (more than a bare page).
TEST(HtmlInBrowserCheck, AReportPrintsToPdf) {
  if (chromium().empty()) GTEST_SKIP() << "no chromium (scripts/install-deps.sh installs it)";
  fs::create_directories(kReports);
  const fs::path csv = kReports / "print-check.csv", page = kReports / "print-check.html",
                 pdf = kReports / "print-check.pdf";
  {
    std::ofstream out(csv);
    out << "epoch,loss,accuracy,val_loss,val_accuracy\n";
    for (int e = 0; e < 30; ++e)
      out << e << "," << 2.3 / (1 + 0.2 * e) << "," << 0.1 + 0.025 * e << ","
          << 2.3 / (1 + 0.15 * e) << "," << 0.1 + 0.02 * e << "\n";
  }
  fs::remove(pdf);
  const auto made = run_shell(std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 diagnose-log " +
                              csv.string() + " --num-classes 10 -q --html " + page.string());
  ASSERT_TRUE(fs::exists(page)) << made.out;
  const Browsed b = browse("print-check", page, "--print-to-pdf=" + pdf.string());
  ASSERT_EQ(b.code, 0);
  EXPECT_TRUE(b.console.empty()) << joined(b.console);
  const std::string bytes = read(pdf);
  ASSERT_GT(bytes.size(), 20000u) << "a near-empty PDF";
  EXPECT_EQ(bytes.rfind("%PDF-", 0), 0u);
  EXPECT_NE(bytes.find("/Type /Page"), std::string::npos);
  fs::remove_all(kReports / "print-check.profile");
}

struct Case {
  const char* name;
  const char* command;  ///< after `lossdoctor --threads 1`; {html} and {json} are substituted
  int exit_code;
  std::vector<const char*> charts;  ///< element ids that must hold a drawn chart
  std::vector<const char*> texts;   ///< strings the rendered DOM must contain
  int loss_points = -1;  ///< points of chart-loss's "loss" when no JSON says (train: --max-steps)
};

/// The series a line chart drew, by name (data-name) with their point counts (data-points).
std::map<std::string, int> drawn_series(const std::string& dom, const std::string& id) {
  std::map<std::string, int> out;
  const size_t start = dom.find("id=\"" + id + "\"");
  if (start == std::string::npos) return out;
  const std::string chart = dom.substr(start, dom.find("</svg>", start) - start);
  const std::regex series(
      R"re(class="series"[^>]*?data-points="([0-9]+)"[^>]*?data-name="([^"]*)")re");
  for (auto it = std::sregex_iterator(chart.begin(), chart.end(), series);
       it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[2];
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""},
                                   {"&lt;", "<"},
                                   {"&gt;", ">"},
                                   {"&amp;", "&"}}) {
      for (size_t i = name.find(from); i != std::string::npos; i = name.find(from, i + 1))
        name.replace(i, from.size(), to);
    }
    out[name] = std::stoi((*it)[1]);
  }
  return out;
}

/// What the run itself says the page must show, from the command's --json output: the loss
/// curve's length (steps_run), one confirmation series per arm at its own steps (plus the
/// diagnosis run on diagnose), repair's before/after runs and accuracies, lr-find's sweep and
/// suggestion.
struct Expected {
  std::vector<std::tuple<std::string, std::string, int>> points;  ///< chart, series, points
  std::vector<std::pair<std::string, int>> series;                ///< chart, series drawn
  std::vector<std::string> texts;                                 ///< in the DOM
  int figures = -1;                                      ///< audit: flagged images in the gallery
  std::vector<std::pair<std::string, long>> bar_totals;  ///< audit: images per split, all classes
};

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ">%.2f%%<", 100 * v);
  return buf;
}

Expected expected_from(const Case& c, const nlohmann::json& report) {
  Expected e;
  const std::string command = c.command;
  const auto arms = [&](const nlohmann::json& r, int extra) {
    if (!r.contains("confirmation") || r.at("confirmation").is_null()) return;
    int n = 0;
    for (const auto& a : r.at("confirmation").at("arms")) {
      const int steps = a.at("steps").get<int>();
      if (steps <= 0) continue;
      ++n;
      e.points.emplace_back(
          "chart-confirmation",
          a.at("intervention").get<std::string>() + " (" + a.at("status").get<std::string>() + ")",
          steps);
    }
    if (n + extra > 1) e.series.emplace_back("chart-confirmation", n + extra);
  };
  if (command.rfind("diagnose", 0) == 0 && report.contains("steps_run")) {
    e.points.emplace_back("chart-loss", "loss", report.at("steps_run").get<int>());
    arms(report, 1);  // and the diagnosis run
  } else if (command.rfind("repair", 0) == 0) {
    if (!report.at("rounds").empty()) {
      // The first round's diagnosis run: its loss curve, and the arms overlaid on it.
      const auto& first = report.at("rounds").at(0).at("report");
      if (first.contains("steps_run"))
        e.points.emplace_back("chart-loss", "loss", first.at("steps_run").get<int>());
      arms(first, 1);
    }
    int runs = 0;
    for (const auto& [key, label] :
         {std::pair<const char*, const char*>{"before", "original"}, {"after", "repaired"}}) {
      const auto& o = report.at(key);
      if (o.is_null()) continue;
      ++runs;
      e.points.emplace_back("chart-repair", label, o.at("steps").get<int>());
      if (o.at("val_accuracy").is_number())
        e.texts.push_back(percent(o.at("val_accuracy").get<double>()));
    }
    e.series.emplace_back("chart-repair", runs);
  } else if (command.rfind("audit", 0) == 0) {
    // The gallery shows up to 24 images per finding, each image once (audit.cpp fill_view).
    std::set<long> shown;
    e.figures = 0;
    for (const auto& f : report.at("findings")) {
      if (!f.contains("samples")) continue;
      int taken = 0;
      for (const auto& i : f.at("samples")) {
        if (taken >= 24) break;
        if (shown.insert(i.get<long>()).second) ++taken;
      }
      e.figures += taken;
    }
    // Class balance: the bars of each split add up to the images the command loaded.
    std::smatch m;
    for (const auto& [key, name] :
         {std::pair<const char*, const char*>{"train", "train"}, {"val", "validation"}}) {
      if (std::regex_search(command, m,
                            std::regex(std::string("data\\.") + key + "\\.limit=([0-9]+)")))
        e.bar_totals.emplace_back(name, std::stol(m[1]));
    }
  } else if (command.rfind("lr-find", 0) == 0) {
    e.points.emplace_back("chart-lrfind", "loss", static_cast<int>(report.at("points").size()));
    e.points.emplace_back("chart-lrfind", "loss", report.at("steps_run").get<int>());
    char buf[64];
    if (report.at("suggested_lr").is_number()) {
      std::snprintf(buf, sizeof buf, "id=\"lr-suggestion\">%.4g<",
                    report.at("suggested_lr").get<double>());
    } else {
      std::snprintf(buf, sizeof buf, "id=\"lr-suggestion\">none<");
    }
    e.texts.push_back(buf);
    if (report.at("divergence_lr").is_number()) {
      std::snprintf(buf, sizeof buf, "diverges from %.4g<",
                    report.at("divergence_lr").get<double>());
      e.texts.push_back(buf);
    }
  }
  return e;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class HtmlInBrowser : public ::testing::TestWithParam<Case> {};

TEST_P(HtmlInBrowser, RendersItsChartsAndNumbers) {
  const Case& c = GetParam();
  if (chromium().empty()) GTEST_SKIP() << "no chromium (scripts/install-deps.sh installs it)";
  fs::create_directories(kReports);
  const fs::path html = kReports / (std::string(c.name) + ".html");
  const fs::path json = kReports / (std::string(c.name) + ".json");
  fs::remove(html);
  fs::remove(json);
  std::string command = c.command;
  command = std::regex_replace(command, std::regex("\\{html\\}"), html.string());
  command = std::regex_replace(command, std::regex("\\{json\\}"), json.string());
  command = std::regex_replace(command, std::regex("\\{src\\}"), LOSSDOCTOR_SOURCE_DIR);
  command = std::regex_replace(command, std::regex("\\{dir\\}"), kReports.string());
  // A file in a folder whose name alone is wider than a phone: a title or a cell that shows
  // its path must wrap (CI's checkout lives deeper than a developer's).
  const fs::path deep =
      kReports / "a-folder-whose-name-is-deliberately-longer-than-a-phone-screen-is-wide";
  fs::create_directories(deep);
  fs::copy_file(fs::path(LOSSDOCTOR_SOURCE_DIR) / "tests/cli/data/keras_diverging.csv",
                deep / "keras_diverging.csv", fs::copy_options::overwrite_existing);
  command = std::regex_replace(command, std::regex("\\{deep\\}"), deep.string());
  const auto run = run_shell("cd " LOSSDOCTOR_SOURCE_DIR " && timeout -s KILL 300 " +
                             std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 " + command);
  ASSERT_EQ(run.code, c.exit_code) << run.out;
  ASSERT_TRUE(fs::exists(html)) << run.out;
  const std::string page = read(html);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos) << "self-contained";

  const fs::path shot = kReports / (std::string(c.name) + ".png");
  fs::remove(shot);
  const Browsed wide =
      browse(c.name, html, "--window-size=1200,2400 --dump-dom --screenshot=" + shot.string());
  ASSERT_EQ(wide.code, 0) << wide.dom.substr(0, 2000);
  const std::string& dom = wide.dom;
  EXPECT_NE(dom.find("data-rendered=\"1\""), std::string::npos) << "the script ran to its end";
  EXPECT_NE(dom.find("data-errors=\"0\""), std::string::npos)
      << dom.substr(dom.find("id=\"errors\""), 400);
  EXPECT_TRUE(wide.console.empty()) << "console messages or uncaught errors:\n"
                                    << joined(wide.console);

  for (const char* id : c.charts) {
    // <div class="chart" id="ID" data-series="N"> ... <path class="series" data-points="M">
    const std::regex host(std::string("id=\"") + id + "\"[^>]*data-(series|rows)=\"([0-9]+)\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(dom, m, host)) << id << " was not drawn";
    EXPECT_GT(std::stoi(m[2]), 0) << id;
    const size_t start = static_cast<size_t>(m.position(0));
    const size_t end = dom.find("</svg>", start);
    const std::string chart = dom.substr(start, end - start);
    if (std::string(m[1]) == "series") {
      const std::regex series("class=\"(series|bar)\"[^>]*?(data-points=\"([0-9]+)\")?");
      int drawn = 0;
      for (auto it = std::sregex_iterator(chart.begin(), chart.end(), series);
           it != std::sregex_iterator(); ++it) {
        ++drawn;
        if ((*it)[3].matched) {
          EXPECT_GT(std::stoi((*it)[3]), 0) << id << ": an empty series";
        }
      }
      EXPECT_GE(drawn, std::stoi(m[2])) << id << ": fewer series drawn than declared";
    } else {
      EXPECT_NE(chart.find("class=\"cell\""), std::string::npos) << id << ": no heatmap cells";
    }
  }
  for (const char* text : c.texts) EXPECT_NE(dom.find(text), std::string::npos) << text;
  // Every finding of the JSON report, with its confidence as the table shows it (repair: its
  // first round's), and the counts and numbers the run itself gives.
  Expected expected;
  if (c.loss_points >= 0) expected.points.emplace_back("chart-loss", "loss", c.loss_points);
  if (fs::exists(json)) {
    const auto report = nlohmann::json::parse(read(json));
    if (report.contains("verdict")) {
      EXPECT_NE(dom.find("class=\"verdict " + report.at("verdict").get<std::string>()),
                std::string::npos);
    }
    const nlohmann::json* found = nullptr;
    if (report.contains("findings")) found = &report;
    if (report.contains("rounds") && !report.at("rounds").empty())
      found = &report.at("rounds").at(0).at("report");
    if (found != nullptr) {
      for (const auto& f : found->at("findings")) {
        const std::string cause = f.at("cause");
        EXPECT_NE(dom.find("data-cause=\"" + cause + "\""), std::string::npos) << cause;
        // The JSON keeps 3 decimals, the table rounds the full value to 2: 0.075 may be 0.08.
        const double v = f.at("confidence").get<double>();
        bool shown = false;
        for (const double x : {v - 5e-4, v, v + 5e-4}) {
          char conf[16];
          std::snprintf(conf, sizeof conf, ">%.2f<", x);
          shown |= dom.find(conf) != std::string::npos;
        }
        EXPECT_TRUE(shown) << cause << " " << v;
      }
    }
    const Expected more = expected_from(c, report);
    expected.points.insert(expected.points.end(), more.points.begin(), more.points.end());
    expected.series = more.series;
    expected.texts = more.texts;
    expected.figures = more.figures;
    expected.bar_totals = more.bar_totals;
  }
  EXPECT_FALSE(expected.points.empty() && expected.figures < 0)
      << "nothing checked against the run";
  if (expected.figures >= 0) {
    const std::regex figure("<figure class=\"flagged\"");
    EXPECT_EQ(
        std::distance(std::sregex_iterator(dom.begin(), dom.end(), figure), std::sregex_iterator()),
        expected.figures)
        << "flagged images in the gallery";
  }
  for (const auto& [split, total] : expected.bar_totals) {
    // <rect class="bar"><title>train 3: 204</title></rect>
    const std::regex bar("<title>" + split + " [^<:]*: ([0-9]+)</title>");
    long sum = 0;
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), bar); it != std::sregex_iterator();
         ++it)
      sum += std::stol((*it)[1]);
    EXPECT_EQ(sum, total) << split << " images in the class-balance bars";
  }
  for (const auto& [id, name, n] : expected.points) {
    const auto drawn = drawn_series(dom, id);
    const auto it = drawn.find(name);
    ASSERT_NE(it, drawn.end()) << id << ": no series \"" << name << "\"";
    EXPECT_EQ(it->second, n) << id << " \"" << name << "\": points drawn vs the run's";
  }
  for (const auto& [id, n] : expected.series) {
    EXPECT_EQ(drawn_series(dom, id).size(), static_cast<size_t>(n)) << id << ": series";
  }
  for (const auto& text : expected.texts) EXPECT_NE(dom.find(text), std::string::npos) << text;

  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 10000u) << "an empty screenshot";

  // A phone-width viewport (390 px, kept as <case>.narrow.png): the page itself must not scroll
  // sideways.
  const fs::path narrow_shot = kReports / (std::string(c.name) + ".narrow.png");
  fs::remove(narrow_shot);
  const Browsed narrow = browse(
      c.name, html, "--window-size=390,1600 --dump-dom --screenshot=" + narrow_shot.string());
  EXPECT_NE(narrow.dom.find("data-overflow=\"0\""), std::string::npos) << "wider than a phone";
  // Readable there: chart text at least 11 px as rendered (font size times the drawing's scale
  // on screen, measured by the page in the browser), and no table header broken inside a word.
  std::smatch font;
  ASSERT_TRUE(std::regex_search(narrow.dom, font, std::regex("data-min-chart-font=\"([0-9.]+)\"")))
      << "no chart text measured";
  EXPECT_GE(std::stod(font[1]), 11.0) << "chart text on a phone, px";
  EXPECT_NE(narrow.dom.find("data-split-words=\"0\""), std::string::npos)
      << "a table header broken inside a word";
  EXPECT_TRUE(narrow.console.empty()) << joined(narrow.console);
  EXPECT_TRUE(fs::exists(narrow_shot));
  fs::remove_all(kReports / (std::string(c.name) + ".profile"));
}

INSTANTIATE_TEST_SUITE_P(
    RealRuns, HtmlInBrowser,
    ::testing::Values(
        Case{"seed1",
             "diagnose examples/seed-1-unshuffled-mismatched-val.yaml --budget-steps 100 -q "
             "--no-label-agreement "
             "--html {html} --json {json}",
             1,
             {"chart-loss", "heat-grad_norm", "heat-dead_fraction"},
             {"unshuffled_data", "chance ln 10 = 2.303"}},
        Case{"seed2",
             "diagnose examples/seed-2-no-batchnorm-softmax-logits.yaml --budget-steps 100 -q "
             "--no-label-agreement "
             "--html {html} --json {json}",
             1,
             {"chart-loss", "heat-update_ratio"},
             {"loss_output_mismatch"}},
        Case{"seed3",
             "diagnose examples/seed-3-adam-lr1-batch1.yaml --budget-steps 100 -q --html {html} "
             "--no-label-agreement "
             "--json {json}",
             1,
             {"chart-loss", "heat-dead_fraction", "chart-confirmation",
              "chart-confirmation-accuracy"},
             {"lr_too_high", "--set optimizer.lr=0.001", "confirmed"}},
        Case{"healthy",
             "diagnose examples/fashion-mnist.yaml --budget-steps 100 --no-confirm -q --html "
             "{html} --json {json}",
             0,
             {"chart-loss", "heat-grad_norm"},
             {"class=\"verdict healthy\""}},
        Case{"audit",
             "audit examples/fashion-mnist-12k-noise.yaml --set data.train.limit=2000 --set "
             "data.val.limit=500 -q --html {html} --json {json}",
             1,
             {"chart-balance"},
             {"class=\"flagged\"", "label_noise", "Label noise: estimated joint"}},
        Case{"repair",
             "repair examples/seed-3-adam-lr1-batch1.yaml --set data.train.limit=2000 "
             "--max-steps 100 --no-lr-find --no-label-agreement --max-rounds 2 -q "
             "-o {dir}/repaired.yaml --html {html} "
             "--json {json}",
             1,
             {"chart-repair", "chart-confirmation", "chart-loss", "heat-dead_fraction"},
             {"original", "repaired", "lr_too_high"}},
        Case{"lr_find",
             "lr-find examples/fashion-mnist.yaml --steps 60 -q --html {html} --json {json}",
             0,
             {"chart-lrfind"},
             {"id=\"lr-suggestion\""}},
        Case{"train",
             "train examples/fashion-mnist.yaml --max-steps 60 -q --html {html}",
             0,
             {"chart-loss"},
             {"lossdoctor train"},
             60},
        Case{"keras_log",
             "diagnose-log {deep}/keras_diverging.csv --num-classes 10 -q --html {html} --json "
             "{json}",
             1,
             {"chart-loss"},
             {"lr_too_high"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lossdoctor
