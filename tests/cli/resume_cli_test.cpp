// "Never lose a run" at the command line: `train --out DIR` killed with SIGKILL at many points
// leaves a directory whose every file parses and that `--resume` finishes exactly as an
// uninterrupted run; the same seed gives the same metrics and checkpoint bytes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "lossdoctor/spec/spec_parser.hpp"

extern char** environ;

#include "cli/shell_run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 32 images in batches of 16: 2 steps an epoch, so a checkpoint (and six file writes) every
// other step, 24 steps in all. Dropout makes every step depend on its seed.
const char* kSpec = R"(name: killme
seed: 5
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 32}
  val: {limit: 20}
  transforms:
    train: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dropout: {rate: 0.2}
    - dense: {units: 10}
optimizer: {type: adam, lr: 0.003}
batch_size: 16
epochs: 12
)";
constexpr int kTotalSteps = 24;

using CliRun = lossdoctor::test::ShellRun;

CliRun run_cli(const std::string& args) {
  return lossdoctor::test::run_shell(std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 " + args);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("lossdoctor_resume_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool is_temp_file(const std::string& name) { return name.find(".tmp.") != std::string::npos; }

/// Every file of a run directory parses (temporary files of a killed writer aside, which may
/// be cut short): the spec, JSON lines and CSV row by row, the summary, the checkpoint.
void expect_every_file_parses(const fs::path& dir, const std::string& when) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const fs::path& path = entry.path();
    if (is_temp_file(name)) continue;
    SCOPED_TRACE(when + ": " + name);
    if (name == "spec.yaml") {
      EXPECT_NO_THROW(lossdoctor::spec::parse_spec_file(path.string()));
    } else if (name == "steps.jsonl" || name == "epochs.jsonl") {
      int number = 0;
      for (const auto& line : lines_of(path)) {
        ++number;
        EXPECT_NO_THROW((void)json::parse(line)) << "line " << number << ": " << line;
      }
    } else if (name == "steps.csv" || name == "epochs.csv") {
      const auto lines = lines_of(path);
      ASSERT_FALSE(lines.empty());
      const auto commas = [](const std::string& l) { return std::count(l.begin(), l.end(), ','); };
      for (size_t i = 1; i < lines.size(); ++i) {
        EXPECT_EQ(commas(lines[i]), commas(lines[0])) << "line " << i + 1 << ": " << lines[i];
        std::stringstream row(lines[i]);
        for (std::string cell; std::getline(row, cell, ',');) {
          size_t used = 0;
          EXPECT_NO_THROW((void)std::stod(cell, &used)) << cell;
          EXPECT_EQ(used, cell.size()) << lines[i];
        }
      }
    } else if (name == "summary.json") {
      EXPECT_NO_THROW((void)json::parse(read_text(path)));
    } else if (name == "checkpoint.pt") {
      EXPECT_NO_THROW({
        torch::serialize::InputArchive archive;
        archive.load_from(path.string());
        torch::Tensor position;
        archive.read("position", position);
      });
    } else {
      ADD_FAILURE() << "unexpected file in the run directory";
    }
  }
}

/// A JSON-lines metrics file without its timing column.
std::vector<json> records_without_time(const fs::path& path) {
  std::vector<json> out;
  for (const auto& line : lines_of(path)) {
    json j = json::parse(line);
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

/// A CSV metrics file without its last (timing) column.
std::vector<std::string> rows_without_time(const fs::path& path) {
  std::vector<std::string> out;
  for (const auto& line : lines_of(path)) out.push_back(line.substr(0, line.rfind(',')));
  return out;
}

/// Same steps, epochs, final figures and checkpoint bytes, timing aside.
void expect_same_run(const fs::path& a, const fs::path& b) {
  EXPECT_EQ(records_without_time(a / "steps.jsonl"), records_without_time(b / "steps.jsonl"));
  EXPECT_EQ(records_without_time(a / "epochs.jsonl"), records_without_time(b / "epochs.jsonl"));
  EXPECT_EQ(rows_without_time(a / "steps.csv"), rows_without_time(b / "steps.csv"));
  EXPECT_EQ(rows_without_time(a / "epochs.csv"), rows_without_time(b / "epochs.csv"));
  const json sa = json::parse(read_text(a / "summary.json"));
  const json sb = json::parse(read_text(b / "summary.json"));
  for (const char* key : {"status", "steps", "train_loss", "val_loss", "val_accuracy"}) {
    EXPECT_EQ(sa[key], sb[key]) << key;
  }
  EXPECT_TRUE(read_text(a / "checkpoint.pt") == read_text(b / "checkpoint.pt"))
      << "checkpoints differ";
}

pid_t spawn_train(const fs::path& spec, const fs::path& run_dir, bool resume, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args = {
      LOSSDOCTOR_CLI_PATH, "--threads", "1", "train", spec.string(), "--out",
      run_dir.string(),    "--quiet"};
  if (resume) args.push_back("--resume");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

size_t line_count(const fs::path& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(ResumeCli, SigkillAnywhereThenResumeEqualsTheUninterruptedRun) {
  const auto started = std::chrono::steady_clock::now();
  const fs::path dir = temp_dir("kill");
  const fs::path spec = dir / "spec.yaml";
  std::ofstream(spec) << kSpec;
  const CliRun full =
      run_cli("train " + spec.string() + " --quiet --out " + (dir / "full").string());
  ASSERT_EQ(full.code, 0) << full.out;

  // Kill points from a fixed list of seeds: the threshold on steps.jsonl's length (it grows at
  // each checkpoint) decides where, not the clock; a short random wait after it spreads the
  // kills over the checkpoint's writes, the evaluation and the steps between.
  const unsigned kSeeds[] = {101, 202, 303, 404, 505, 606};
  constexpr int kKillsPerRun = 4;
  int kills = 0, mid_write = 0;  // mid_write: kills that left a temporary file
  for (const unsigned seed : kSeeds) {
    std::mt19937 rng(seed);
    std::vector<size_t> thresholds;
    for (int k = 0; k < kKillsPerRun; ++k) {
      thresholds.push_back(std::uniform_int_distribution<size_t>(0, kTotalSteps - 4)(rng));
    }
    std::sort(thresholds.begin(), thresholds.end());
    const fs::path run_dir = dir / ("run" + std::to_string(seed));
    const fs::path log = dir / ("log" + std::to_string(seed) + ".txt");
    for (int k = 0; k < kKillsPerRun; ++k) {
      const int wait_us = std::uniform_int_distribution<int>(0, 3000)(rng);
      const pid_t pid = spawn_train(spec, run_dir, /*resume=*/k > 0, log);
      ASSERT_GT(pid, 0);
      // Kill once a checkpoint exists (before it, --resume has nothing to resume) and the step
      // records have reached the threshold.
      bool exited = false;
      int status = 0;
      for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);;) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
          break;
        }
        if (fs::exists(run_dir / "checkpoint.pt") &&
            line_count(run_dir / "steps.jsonl") >= thresholds[k]) {
          break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), until) << "seed " << seed << " kill " << k;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (!exited) {
        std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ++kills;
        for (const auto& entry : fs::directory_iterator(run_dir)) {
          if (is_temp_file(entry.path().filename().string())) {
            ++mid_write;
            break;
          }
        }
      }
      ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
          << read_text(log);
      expect_every_file_parses(run_dir,
                               "seed " + std::to_string(seed) + " kill " + std::to_string(k));
    }
    const CliRun last =
        run_cli("train " + spec.string() + " --quiet --resume --out " + run_dir.string());
    ASSERT_EQ(last.code, 0) << last.out << read_text(log);
    for (const auto& entry : fs::directory_iterator(run_dir)) {
      EXPECT_FALSE(is_temp_file(entry.path().filename().string())) << entry.path();
    }
    expect_every_file_parses(run_dir, "seed " + std::to_string(seed) + " resumed");
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_same_run(dir / "full", run_dir);
  }
  EXPECT_GE(kills, 20);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%d kills (%d mid-write) in %.1f s\n", kills, mid_write, seconds);
  fs::remove_all(dir);
}

TEST(ResumeCli, SameSeedOneThreadGivesTheSameMetricsAndCheckpointBytes) {
  const fs::path dir = temp_dir("determinism");
  const fs::path spec = dir / "spec.yaml";
  std::ofstream(spec) << kSpec;
  for (const char* run : {"a", "b"}) {
    const CliRun r = run_cli("train " + spec.string() + " --quiet --out " + (dir / run).string() +
                             " --set epochs=3");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  expect_same_run(dir / "a", dir / "b");
  fs::remove_all(dir);
}

TEST(ResumeCli, ACheckpointOfAnotherModelExitsTwoNamingFileTensorAndShapes) {
  const fs::path dir = temp_dir("mismatch");
  const fs::path spec = dir / "spec.yaml";
  std::ofstream(spec) << kSpec;
  const std::string run = (dir / "run").string();
  ASSERT_EQ(run_cli("train " + spec.string() + " --quiet --max-steps 2 --out " + run).code, 0);
  const std::string before = read_text(dir / "run" / "checkpoint.pt");
  CliRun r = run_cli("train " + spec.string() + " --quiet --resume --out " + run +
                     " --set model.layers[0].conv2d.filters=6");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(r.out, run +
                       "/checkpoint.pt: cannot resume: the checkpoint holds another model than "
                       "this spec builds: l0_conv2d.weight (model.layers[0].conv2d) is [4, 1, 3, "
                       "3] in the checkpoint but [6, 1, 3, 3] in this spec's model\n");
  EXPECT_EQ(read_text(dir / "run" / "checkpoint.pt"), before);  // nothing was trained or written

  // A cut-short last line of steps.jsonl is dropped with one line, and the run goes on.
  std::ofstream(dir / "run" / "steps.jsonl", std::ios::app) << "{\"epoch\":1,\"gra";
  r = run_cli("train " + spec.string() + " --quiet --resume --max-steps 4 --out " + run);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "warning: " + run +
                       "/steps.jsonl:3: damaged record (a write cut short); the metric files are "
                       "truncated back to the checkpoint's step 2\n");
  EXPECT_EQ(line_count(dir / "run" / "steps.jsonl"), 4u);
  fs::remove_all(dir);
}

TEST(ResumeCli, TheRunsSpecResumesFromAnotherDirectoryAndADamagedCheckpointIsCalledSo) {
  // A spec in cfg/ with relative data locations (data.path and an exclude file), trained from
  // cfg/; the run directory's spec.yaml must then resume the run from anywhere.
  const fs::path dir = temp_dir("paths");
  fs::create_directories(dir / "work" / "cfg");
  fs::create_directories(dir / "work" / "data");
  fs::create_directories(dir / "elsewhere");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    fs::create_symlink(fs::path("/usr/share/datasets/fashion-mnist") / f,
                       dir / "work" / "data" / f);
  }
  std::ofstream(dir / "work" / "data" / "ex.txt") << "0\n1\n";
  std::string text = kSpec;
  text.replace(text.find("/usr/share/datasets/fashion-mnist"),
               std::string("/usr/share/datasets/fashion-mnist").size(), "../data");
  text.replace(text.find("train: {limit: 32}"), std::string("train: {limit: 32}").size(),
               "train: {limit: 32, exclude: ex.txt}");
  std::ofstream(dir / "work" / "cfg" / "s.yaml") << text;
  CliRun r = lossdoctor::test::run_shell(
      "cd " + (dir / "work" / "cfg").string() + " && " + LOSSDOCTOR_CLI_PATH +
      " --threads 1 train s.yaml --quiet --max-steps 2 --out ../run");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string saved = read_text(dir / "work" / "run" / "spec.yaml");
  EXPECT_NE(saved.find((dir / "work" / "data").string()), std::string::npos) << saved;
  EXPECT_NE(saved.find((dir / "work" / "data" / "ex.txt").string()), std::string::npos) << saved;

  r = lossdoctor::test::run_shell("cd " + (dir / "elsewhere").string() + " && " +
                                  LOSSDOCTOR_CLI_PATH +
                                  " --threads 1 train ../work/run/spec.yaml --resume --quiet "
                                  "--max-steps 4 --out ../work/run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(line_count(dir / "work" / "run" / "steps.jsonl"), 4u);

  // A checkpoint that cannot be read is damaged, not "another model".
  std::ofstream(dir / "work" / "run" / "checkpoint.pt", std::ios::binary | std::ios::trunc)
      << "PK\x03\x04 not really a zip archive";
  r = run_cli("train " + (dir / "work" / "run" / "spec.yaml").string() +
              " --resume --quiet --max-steps 6 --out " + (dir / "work" / "run").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "work" / "run" / "checkpoint.pt").string() +
                       ": cannot resume: the checkpoint is damaged"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("another model"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

}  // namespace
