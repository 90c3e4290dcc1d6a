// diagnose-log and diagnose --record-in through the real CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/shell_run.hpp"
#include "cli/tiny_spec.hpp"

namespace {

namespace fs = std::filesystem;

lossdoctor::test::ShellRun run_cli(const std::string& args) {
  return lossdoctor::test::run_shell(std::string("cd ") + LOSSDOCTOR_SOURCE_DIR + " && " +
                                     LOSSDOCTOR_CLI_PATH + " --threads 1 " + args);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("lossdoctor_logs_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

const std::string kTinySpec = lossdoctor::test::tiny_spec(512);

TEST(LogsCli, KerasLogDivergingIsExitOneWithJson) {
  const fs::path dir = temp_dir("keras");
  std::ofstream(dir / "training.log") << "epoch,loss,lr,val_loss\n0,2.1,0.5,2.0\n1,1.5,0.5,1.4\n"
                                         "2,1.2,0.5,1.3\n3,1.6,0.5,1.9\n4,3.5,0.5,4.0\n"
                                         "5,12,0.5,15\n6,nan,0.5,nan\n";
  const auto r = run_cli("diagnose-log " + (dir / "training.log").string() +
                         " --num-classes 10 --quiet --json " + (dir / "r.json").string());
  EXPECT_EQ(r.code, 1) << r.out;
  const auto j = read_json(dir / "r.json");
  EXPECT_EQ(j["verdict"], "unhealthy");
  EXPECT_EQ(j["findings"][0]["cause"], "lr_too_high");
  EXPECT_LE(j["findings"][0]["confidence"].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(j["findings"][0]["fix"]["optimizer.lr"].get<double>(), 0.05);
  fs::remove_all(dir);
}

TEST(LogsCli, BadLogsExitTwoWithoutJson) {
  const fs::path dir = temp_dir("bad");
  std::ofstream(dir / "empty.csv") << "";
  std::ofstream(dir / "noloss.csv") << "epoch,acc\n0,0.5\n";
  std::ofstream(dir / "events.out.tfevents.1") << "this is not a TFRecord file at all";
  for (const auto& [file, message] : std::vector<std::pair<std::string, std::string>>{
           {"empty.csv", "empty file"},
           {"noloss.csv", "no training-loss column"},
           {"events.out.tfevents.1", "record 1 at byte 0: length CRC mismatch"},
           {"missing.csv", "no such file"}}) {
    const auto r =
        run_cli("diagnose-log " + (dir / file).string() + " --json " + (dir / "out.json").string());
    EXPECT_EQ(r.code, 2) << file << ": " << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir / "out.json")) << file;
  }
  fs::remove_all(dir);
}

TEST(LogsCli, TrainedRunDirectoryAndRecordRoundTrip) {
  const fs::path dir = temp_dir("run");
  std::ofstream(dir / "tiny.yaml") << kTinySpec;
  const std::string spec = (dir / "tiny.yaml").string();
  // lossdoctor's own steps.csv/epochs.csv, read from the run directory.
  const auto train = run_cli("train " + spec + " --quiet --out " + (dir / "run").string());
  ASSERT_EQ(train.code, 0) << train.out;
  const auto log =
      run_cli("diagnose-log " + (dir / "run").string() +
              " --num-classes 10 --optimizer sgd --json " + (dir / "log.json").string());
  EXPECT_TRUE(log.code == 0 || log.code == 1) << log.out;
  const auto lj = read_json(dir / "log.json");
  EXPECT_EQ(lj["command"], "diagnose-log");
  EXPECT_GT(lj["steps_run"].get<int>(), 20);

  // diagnose --record, then --record-in: the same verdict and causes.
  const auto diag = run_cli("diagnose " + spec + " --budget-steps 30 --no-confirm --quiet --json " +
                            (dir / "d.json").string() + " --record " + (dir / "rec.json").string());
  ASSERT_TRUE(diag.code == 0 || diag.code == 1) << diag.out;
  const auto again = run_cli("diagnose --record-in " + (dir / "rec.json").string() +
                             " --quiet --json " + (dir / "again.json").string());
  EXPECT_EQ(again.code, diag.code) << again.out;
  const auto a = read_json(dir / "d.json"), b = read_json(dir / "again.json");
  EXPECT_EQ(a["verdict"], b["verdict"]);
  std::vector<std::string> ca, cb;
  for (const auto& f : a["findings"]) ca.push_back(f["cause"]);
  for (const auto& f : b["findings"]) cb.push_back(f["cause"]);
  EXPECT_EQ(ca, cb);

  // A damaged record is exit 2 naming the file, never 3.
  std::ofstream(dir / "broken.json") << "{\"layers\": [], \"steps\": 3}";
  const auto broken = run_cli("diagnose --record-in " + (dir / "broken.json").string());
  EXPECT_EQ(broken.code, 2) << broken.out;
  EXPECT_NE(broken.out.find("broken.json: not a RunRecord: 'steps'"), std::string::npos)
      << broken.out;
  const auto both = run_cli("diagnose " + spec + " --record-in " + (dir / "rec.json").string());
  EXPECT_EQ(both.code, 2) << both.out;
  const auto neither = run_cli("diagnose");
  EXPECT_EQ(neither.code, 2) << neither.out;
  fs::remove_all(dir);
}

}  // namespace
