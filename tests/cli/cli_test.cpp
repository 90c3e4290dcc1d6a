// The command line as a user meets it: exit codes, messages, files. Runs the built binary.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

extern char** environ;

#include "cli/shell_run.hpp"

namespace {

namespace fs = std::filesystem;

using CliRun = lossdoctor::test::ShellRun;

CliRun run_cli(const std::string& args) {
  return lossdoctor::test::run_shell(std::string("cd ") + LOSSDOCTOR_SOURCE_DIR + " && " +
                                     LOSSDOCTOR_CLI_PATH + " --threads 1 " + args);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("lossdoctor_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

const char* kTinySpec = R"(name: tiny
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 256}
  val: {limit: 128}
  transforms:
    train: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dense: {units: 10}
batch_size: 32
epochs: 1
)";

TEST(Cli, ValidateReportsTheBrokenExampleExactly) {
  const CliRun r = run_cli("validate examples/broken.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out,
            "examples/broken.yaml:12:7: model.layers[3].conv2d: unknown key 'filter' (did you mean "
            "'filters'?)\n");
}

TEST(Cli, ValidateAcceptsTheExamples) {
  for (const char* spec :
       {"examples/fashion-mnist.yaml", "examples/seed-1-unshuffled-mismatched-val.yaml",
        "examples/seed-2-no-batchnorm-softmax-logits.yaml",
        "examples/seed-3-adam-lr1-batch1.yaml"}) {
    const CliRun r = run_cli(std::string("validate ") + spec);
    EXPECT_EQ(r.code, 0) << spec << "\n" << r.out;
    EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;
  }
}

TEST(Cli, BadOverrideIsAttributedToTheCommandLine) {
  const CliRun r = run_cli("validate examples/fashion-mnist.yaml --set optimizer.lr=-1");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out.rfind("--set optimizer.lr=-1: optimizer.lr: must be > 0", 0), 0u) << r.out;
}

TEST(Cli, KernelLargerThanInputNamesFileLineAndLayer) {
  const fs::path dir = temp_dir("kernel");
  std::string spec = kTinySpec;
  spec.replace(spec.find("kernel: 3"), 9, "kernel: 40");
  write(dir / "spec.yaml", spec);
  const CliRun r = run_cli("validate " + (dir / "spec.yaml").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("spec.yaml:10:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.layers[0].conv2d: kernel 40 is larger than its input 28"),
            std::string::npos)
      << r.out;
  fs::remove_all(dir);
}

TEST(Cli, MissingAndMalformedSpecsExitTwo) {
  const fs::path dir = temp_dir("bad");
  CliRun r = run_cli("validate " + (dir / "nope.yaml").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("nope.yaml"), std::string::npos) << r.out;
  write(dir / "bad.yaml", "name: x\nmodel: {layers: [\n");
  r = run_cli("validate " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("bad.yaml:"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(Cli, BadDataExitsTwoAndLeavesNoRunDirectory) {
  const fs::path dir = temp_dir("data");
  write(dir / "images.gz", "not an idx file at all");
  std::string spec = kTinySpec;
  spec.replace(spec.find("train: {limit: 256}"), 19,
               "train: {images: " + (dir / "images.gz").string() + "}");
  write(dir / "spec.yaml", spec);
  const CliRun r =
      run_cli("train " + (dir / "spec.yaml").string() + " --out " + (dir / "run").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "images.gz").string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("magic"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "run"));
  fs::remove_all(dir);
}

TEST(Cli, TrainQuietPrintsNothingAndWritesTheRun) {
  const fs::path dir = temp_dir("quiet");
  write(dir / "spec.yaml", kTinySpec);
  const CliRun r = run_cli("train " + (dir / "spec.yaml").string() + " --quiet --out " +
                           (dir / "run").string() + " --set batch_size=64");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "");
  const auto summary = nlohmann::json::parse(std::ifstream(dir / "run" / "summary.json"));
  EXPECT_EQ(summary["steps"], 4);  // 256 / 64: the override took effect
  EXPECT_EQ(summary["status"], "completed");
  fs::remove_all(dir);
}

TEST(Cli, HelpOnEveryCommand) {
  for (const char* cmd : {"--help", "train --help", "validate --help", "lint --help",
                          "diagnose --help", "audit --help", "lr-find --help", "repair --help"}) {
    const CliRun r = run_cli(cmd);
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << "\n" << r.out;
  }
  const CliRun r = run_cli("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown command 'frobnicate'"), std::string::npos) << r.out;
  const CliRun typo = run_cli("diagnos examples/fashion-mnist.yaml");
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.out.find("(did you mean 'diagnose'?)"), std::string::npos) << typo.out;
}

TEST(Cli, ClearWordsForOptionRangesAndDirectories) {
  // A positive option's error says "> 0", not a 309-digit range.
  CliRun r = run_cli("diagnose examples/fashion-mnist.yaml --budget-steps -5");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("must be a number > 0, got '-5'"), std::string::npos) << r.out;
  EXPECT_LT(r.out.size(), 300u) << r.out;
  // A directory given as the spec is named as such (was "missing required key 'model'").
  r = run_cli("validate examples");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("examples: spec: is a directory, not a spec file"), std::string::npos)
      << r.out;
}

TEST(Cli, AuditReportsInjectedCorruptImagesAsJson) {
  const fs::path dir = temp_dir("audit");
  std::string spec = kTinySpec;
  spec.replace(spec.find("  transforms:"), 0, "  inject: {corrupt: {fraction: 0.05, kind: nan}}\n");
  write(dir / "spec.yaml", spec);
  const CliRun r =
      run_cli("audit " + (dir / "spec.yaml").string() + " --no-labels --quiet --json " +
              (dir / "audit.json").string() + " --out " + (dir / "out").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out, "");
  const auto j = nlohmann::json::parse(std::ifstream(dir / "audit.json"));
  EXPECT_EQ(j["command"], "audit");
  EXPECT_EQ(j["verdict"], "unhealthy");
  ASSERT_FALSE(j["findings"].empty());
  EXPECT_EQ(j["findings"][0]["cause"], "corrupt_samples");
  EXPECT_EQ(j["findings"][0]["samples"].size(), j["injected"]["corrupt"].size());
  EXPECT_TRUE(fs::exists(dir / "out" / "exclude.txt"));
  EXPECT_TRUE(fs::exists(dir / "out" / "contact_sheet.png"));
  EXPECT_EQ(run_cli("audit " + (dir / "missing.yaml").string()).code, 2);
  fs::remove_all(dir);
}

TEST(Cli, ResumeNeedsARunDirectory) {
  const CliRun r = run_cli("train examples/fashion-mnist.yaml --resume");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--resume needs --out"), std::string::npos) << r.out;
}

TEST(Cli, CtrlCWritesACheckpointAndResumeFinishes) {
  const fs::path dir = temp_dir("sigint");
  std::string spec = kTinySpec;
  spec.replace(spec.find("epochs: 1"), 9, "epochs: 400");
  write(dir / "spec.yaml", spec);
  const std::string log = (dir / "log.txt").string();
  const std::string run_dir = (dir / "run").string();
  const std::string spec_path = (dir / "spec.yaml").string();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args = {
      LOSSDOCTOR_CLI_PATH, "--threads", "1", "train", spec_path, "--out", run_dir,
      "--progress",        "lines"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  // Wait until the second epoch has ended (its checkpoint exists), then press Ctrl-C.
  bool started = false;
  for (int i = 0; i < 1200 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    started = text.str().find("epoch 2/400:") != std::string::npos;
  }
  ASSERT_TRUE(started);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto summary = nlohmann::json::parse(std::ifstream(dir / "run" / "summary.json"));
  EXPECT_EQ(summary["status"], "interrupted");
  const int64_t steps_done = summary["steps"];
  EXPECT_GE(steps_done, 16);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoint.pt"));

  // Resume with a shorter plan: it continues from the checkpoint instead of starting over.
  const CliRun r = run_cli("train " + spec_path + " --out " + run_dir +
                           " --resume --quiet --max-steps " + std::to_string(steps_done + 3));
  EXPECT_EQ(r.code, 0) << r.out;
  const auto after = nlohmann::json::parse(std::ifstream(dir / "run" / "summary.json"));
  EXPECT_EQ(after["steps"], steps_done + 3);
  EXPECT_EQ(after["status"], "completed");
  fs::remove_all(dir);
}

}  // namespace
