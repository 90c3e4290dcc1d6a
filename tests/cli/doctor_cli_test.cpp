// The doctor commands as a user meets them: `lossdoctor lint|diagnose` exit codes and JSON files
// (design.md's shape), and the Monitor example `custom_loop` for each planted loop bug.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/shell_run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using CmdRun = lossdoctor::test::ShellRun;
using lossdoctor::test::run_shell;

CmdRun shell(const std::string& cmd) { return run_shell(cmd); }

CmdRun lossdoctor(const std::string& args) {
  return shell(std::string("cd ") + LOSSDOCTOR_SOURCE_DIR + " && " + LOSSDOCTOR_CLI_PATH +
               " --threads 1 " + args);
}

CmdRun custom_loop(const std::string& args) {
  return shell(std::string("cd ") + LOSSDOCTOR_SOURCE_DIR + " && " + LOSSDOCTOR_CUSTOM_LOOP_PATH +
               " " + args);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("lossdoctor_doctor_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

json read_json(const fs::path& path) { return json::parse(std::ifstream(path)); }

/// Nothing but `expected` in the directory: atomic writes leave no temporary behind.
void expect_only(const fs::path& dir, const std::set<std::string>& expected) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, expected);
}

/// design.md's report shape, for any command.
void expect_report_shape(const json& j, const std::string& command) {
  for (const char* key :
       {"spec", "verdict", "steps_run", "seconds", "device", "findings", "symptoms", "notes"}) {
    EXPECT_TRUE(j.contains(key)) << key << "\n" << j.dump(2);
  }
  EXPECT_TRUE(j["verdict"] == "healthy" || j["verdict"] == "unhealthy");
  EXPECT_TRUE(j["findings"].is_array());
  EXPECT_TRUE(j["symptoms"].is_array());
  EXPECT_TRUE(j["notes"].is_array());
  EXPECT_TRUE(j["steps_run"].is_number_integer());
  double prev = 2;
  for (const auto& f : j["findings"]) {
    for (const char* key :
         {"cause", "confidence", "status", "layer", "symptoms", "evidence", "explanation", "fix"}) {
      EXPECT_TRUE(f.contains(key)) << key << " in " << f.dump();
    }
    EXPECT_TRUE(f["layer"].is_null() || f["layer"].is_string());
    EXPECT_TRUE(f["fix"].is_object());
    EXPECT_TRUE(f["evidence"].is_array());
    EXPECT_LE(f["confidence"].get<double>(), prev) << "findings sorted by confidence";
    prev = f["confidence"].get<double>();
    const std::string status = f["status"];
    EXPECT_TRUE(status == "suspected" || status == "confirmed" || status == "refuted") << status;
    if (command == "lint") {
      EXPECT_EQ(status, "suspected");
      EXPECT_FALSE(f.contains("first_step")) << f.dump();
    }
  }
  for (const auto& s : j["symptoms"]) {
    for (const char* key : {"id", "step", "layer", "value"}) EXPECT_TRUE(s.contains(key)) << key;
  }
}

const json* find_cause(const json& j, const std::string& cause) {
  for (const auto& f : j["findings"]) {
    if (f["cause"] == cause) return &f;
  }
  return nullptr;
}

const char* kSeed2 = "examples/seed-2-no-batchnorm-softmax-logits.yaml";
const char* kSmall = " --set data.train.limit=2000 --set data.val.limit=500";
// Tests about other causes skip the label agreement (small models fitted per diagnosis, seconds
// each); DiagnoseExitCodeMatchesVerdict keeps the default path.
const char* kNotAboutLabels = " --no-label-agreement";

TEST(DoctorCli, LintSeed2FindsTheLossMismatch) {
  const fs::path dir = temp_dir("lint2");
  const CmdRun r =
      lossdoctor(std::string("lint ") + kSeed2 + " --json " + (dir / "lint.json").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("loss_output_mismatch"), std::string::npos) << r.out;
  const json j = read_json(dir / "lint.json");
  expect_report_shape(j, "lint");
  EXPECT_EQ(j["verdict"], "unhealthy");
  EXPECT_EQ(j["spec"], kSeed2);
  EXPECT_EQ(j["steps_run"], 0);
  EXPECT_FALSE(j.contains("injected"));
  const json* f = find_cause(j, "loss_output_mismatch");
  ASSERT_NE(f, nullptr) << j.dump(2);
  EXPECT_FALSE((*f)["fix"].empty());
  EXPECT_FALSE((*f)["evidence"].empty());
  expect_only(dir, {"lint.json"});
  fs::remove_all(dir);
}

TEST(DoctorCli, LintHealthyExampleExitsZero) {
  const fs::path dir = temp_dir("lint0");
  const CmdRun r =
      lossdoctor("lint examples/fashion-mnist.yaml --quiet --json " + (dir / "lint.json").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "") << "--quiet prints nothing";
  const json j = read_json(dir / "lint.json");
  expect_report_shape(j, "lint");
  EXPECT_EQ(j["verdict"], "healthy");
  fs::remove_all(dir);
}

TEST(DoctorCli, DiagnoseSeed3ExitsOneWithLrTooHighAndWritesFilesAtomically) {
  const fs::path dir = temp_dir("diag3");
  const CmdRun r = lossdoctor(
      "diagnose examples/seed-3-adam-lr1-batch1.yaml --budget-steps 100 --progress none" +
      std::string(kSmall) + kNotAboutLabels + " --json " + (dir / "report.json").string() +
      " --record " + (dir / "record.json").string());
  EXPECT_EQ(r.code, 1) << r.out;
  const json j = read_json(dir / "report.json");
  expect_report_shape(j, "diagnose");
  EXPECT_EQ(j["verdict"], "unhealthy");
  EXPECT_GT(j["steps_run"].get<int64_t>(), 0);
  EXPECT_LE(j["steps_run"].get<int64_t>(), 100);
  EXPECT_EQ(j["device"], "cpu");
  ASSERT_FALSE(j["findings"].empty());
  EXPECT_EQ(j["findings"][0]["cause"], "lr_too_high") << j.dump(2);
  ASSERT_TRUE(j["findings"][0]["fix"].contains("optimizer.lr"));
  EXPECT_TRUE(j["findings"][0]["fix"]["optimizer.lr"].is_number()) << "typed fix value";
  // Confirmation is on by default: the lr/10 rerun proves the cause.
  EXPECT_EQ(j["findings"][0]["status"], "confirmed") << j.dump(2);
  ASSERT_TRUE(j.contains("confirmation")) << j.dump(2);
  EXPECT_FALSE(j["confirmation"]["arms"].empty());
  const json rec = read_json(dir / "record.json");
  EXPECT_EQ(rec["steps"].size(), j["steps_run"].get<size_t>());
  EXPECT_EQ(rec["batch_size"], 1);
  expect_only(dir, {"report.json", "record.json"});
  fs::remove_all(dir);
}

TEST(DoctorCli, DiagnoseExitCodeMatchesVerdict) {
  const fs::path dir = temp_dir("diag0");
  const CmdRun r = lossdoctor("diagnose examples/fashion-mnist.yaml --budget-steps 120 --quiet" +
                              std::string(kSmall) + " --json " + (dir / "report.json").string());
  ASSERT_TRUE(r.code == 0 || r.code == 1) << r.out;
  const json j = read_json(dir / "report.json");
  expect_report_shape(j, "diagnose");
  EXPECT_EQ(r.code == 0, j["verdict"] == "healthy");
  EXPECT_EQ(j["verdict"], "healthy") << j.dump(2);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(j["findings"][0]["cause"], "healthy");
  expect_only(dir, {"report.json"});
  fs::remove_all(dir);
}

TEST(DoctorCli, BadInputExitsTwoAndWritesNoJson) {
  const fs::path dir = temp_dir("bad");
  { std::ofstream(dir / "bad.yaml") << "name: x\nmodel: {layers: [\n"; }
  for (const std::string cmd : {"lint", "diagnose", "lr-find", "repair"}) {
    const fs::path out = dir / (cmd + ".json");
    CmdRun r = lossdoctor(cmd + " " + (dir / "bad.yaml").string() + " --json " + out.string());
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("bad.yaml"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(out)) << cmd;
    r = lossdoctor(cmd + " " + (dir / "missing.yaml").string() + " --json " + out.string());
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_FALSE(fs::exists(out)) << cmd;
    r = lossdoctor(cmd + " examples/fashion-mnist.yaml --set optimizer.lr=-1 --json " +
                   out.string());
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("optimizer.lr"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(out)) << cmd;
  }
  expect_only(dir, {"bad.yaml"});
  fs::remove_all(dir);
}

TEST(DoctorCli, DiagnoseNoConfirmSkipsTheReruns) {
  const fs::path dir = temp_dir("noconfirm");
  const CmdRun r = lossdoctor(
      "diagnose examples/seed-3-adam-lr1-batch1.yaml --budget-steps 100 --quiet --no-confirm" +
      std::string(kSmall) + kNotAboutLabels + " --json " + (dir / "report.json").string());
  EXPECT_EQ(r.code, 1) << r.out;
  const json j = read_json(dir / "report.json");
  EXPECT_FALSE(j.contains("confirmation") && !j["confirmation"].is_null()) << j.dump(2);
  for (const auto& f : j["findings"]) EXPECT_EQ(f["status"], "suspected");
  fs::remove_all(dir);
}

TEST(DoctorCli, RepairWritesACommentedSpecThatTrainsBetter) {
  const fs::path dir = temp_dir("repair");
  const fs::path fixed = dir / "fixed.yaml";
  const CmdRun r = lossdoctor(
      "repair examples/seed-3-adam-lr1-batch1.yaml --max-steps 150 --no-lr-find -q"
      " --no-label-agreement"
      " --set diagnose.budget_steps=100 --set data.train.limit=2000 --set data.val.limit=500"
      " --set batch_size=16 -o " +
      fixed.string() + " --json " + (dir / "repair.json").string());
  const json j = read_json(dir / "repair.json");
  EXPECT_EQ(r.code, j["verdict"] == "healthy" ? 0 : 1) << r.out;
  EXPECT_EQ(j["command"], "repair");
  ASSERT_FALSE(j["edits"].empty()) << j.dump(2);
  EXPECT_EQ(j["edits"][0]["key"], "optimizer.lr") << j.dump(2);
  EXPECT_LT(j["after"]["train_loss"].get<double>(), j["before"]["train_loss"].get<double>());
  // The repaired spec validates, keeps the user's overrides, and says why each key changed.
  const CmdRun v = lossdoctor("validate " + fixed.string());
  EXPECT_EQ(v.code, 0) << v.out;
  std::ifstream in(fixed);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("# fixes lr_too_high (confirmed"), std::string::npos) << text;
  EXPECT_NE(text.find("limit: 2000"), std::string::npos) << text;
  // Refuses to overwrite the spec it repairs.
  const CmdRun same = lossdoctor("repair " + fixed.string() + " -o " + fixed.string());
  EXPECT_EQ(same.code, 2) << same.out;
  EXPECT_NE(same.out.find("refusing to overwrite"), std::string::npos) << same.out;
  fs::remove_all(dir);
}

struct LoopCase {
  const char* bug;
  const char* cause;
};

class CustomLoop : public ::testing::TestWithParam<LoopCase> {};

TEST_P(CustomLoop, EachPlantedBugIsTheTopCause) {
  const fs::path dir = temp_dir(std::string("loop_") + GetParam().bug);
  const CmdRun r = custom_loop(std::string("--bug ") + GetParam().bug + " --json " +
                               (dir / "report.json").string());
  EXPECT_EQ(r.code, 1) << r.out;
  const json j = read_json(dir / "report.json");
  expect_report_shape(j, "diagnose");
  EXPECT_EQ(j["verdict"], "unhealthy");
  ASSERT_FALSE(j["findings"].empty());
  EXPECT_EQ(j["findings"][0]["cause"], GetParam().cause) << j.dump(2);
  EXPECT_GE(j["findings"][0]["confidence"].get<double>(), 0.5);
  EXPECT_FALSE(j["findings"][0]["evidence"].empty());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Bugs, CustomLoop,
                         ::testing::Values(LoopCase{"no-zero-grad", "gradients_not_reset"},
                                           LoopCase{"wrong-params", "params_not_updated"},
                                           LoopCase{"negated-loss", "loss_sign_flipped"}),
                         [](const ::testing::TestParamInfo<LoopCase>& info) {
                           std::string name = info.param.bug;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(DoctorCli, CustomLoopWithoutBugIsHealthy) {
  const fs::path dir = temp_dir("loop_none");
  const CmdRun r = custom_loop("--bug none --json " + (dir / "report.json").string());
  EXPECT_EQ(r.code, 0) << r.out;
  const json j = read_json(dir / "report.json");
  expect_report_shape(j, "diagnose");
  EXPECT_EQ(j["verdict"], "healthy") << j.dump(2);
  EXPECT_EQ(j["findings"][0]["cause"], "healthy");
  EXPECT_NE(r.out.find("verdict: healthy"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(DoctorCli, CustomLoopRejectsUnknownBug) {
  const CmdRun r = custom_loop("--bug typo");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("typo"), std::string::npos) << r.out;
}

}  // namespace
