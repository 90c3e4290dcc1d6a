// `lossdoctor diagnose --nproc 2` with confirmation (docs/distributed.md, "Confirmation reruns"):
// rank 0 diagnoses over both ranks and decides the reruns; each rerun trains on both ranks in
// lock-step and rank 0 judges it. A clear fault (a learning rate 250× too high) comes out
// confirmed with its arm in the JSON; a healthy run stays healthy; --no-confirm skips the
// reruns; a rank that dies during a rerun (either rank) ends the job with a message and no
// report. Each run is a few seconds of training on 1024 Fashion-MNIST images; `timeout` bounds
// it; no timing assertion.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/shell_run.hpp"
#include "lossdoctor/train/distributed.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 2 ranks × batch 16 over 1024 images: 32 steps an epoch per rank; a 160-step budget.
const char* kSpec = R"(name: ddp-confirm
seed: 3
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 1024}
  val: {limit: 256}
  transforms:
    train: [{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
    val: [{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]
model:
  layers:
    - conv2d: {filters: 8, kernel: 3, padding: same}
    - batchnorm: {}
    - relu: {}
    - maxpool: {size: 2}
    - flatten: {}
    - dense: {units: 10}
optimizer: {type: sgd, lr: 0.02, momentum: 0.9}
batch_size: 16
epochs: 20
diagnose: {budget_steps: 160, probe_every: 10, confirm: true}
)";

struct Dir {
  fs::path path;
  Dir() {
    path = fs::temp_directory_path() /
           ("lossdoctor-ddp-confirm-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
    std::ofstream(path / "spec.yaml") << kSpec;
  }
  ~Dir() { fs::remove_all(path); }
  fs::path report() const { return path / "report.json"; }
};

lossdoctor::test::ShellRun diagnose(const Dir& d, const std::string& args = "",
                                    const std::string& env = "") {
  return lossdoctor::test::run_shell(
      env + " timeout -s KILL 300 " + std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 diagnose " +
      (d.path / "spec.yaml").string() + " --nproc 2 --progress none --dist-timeout 60 --json " +
      d.report().string() + " " + args);
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

bool any_note_has(const json& notes, const std::string& text) {
  for (const auto& n : notes)
    if (n.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

#define SKIP_WITHOUT_GLOO()                        \
  if (!lossdoctor::train::distributed_available()) \
  GTEST_SKIP() << "built without c10d's Gloo backend (libgloo-dev): diagnose --nproc is off"

TEST(DistributedConfirmCli, ALearningRateFarTooHighIsConfirmedByATwoRankRerun) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const auto run = diagnose(d, "--set optimizer.lr=5");
  ASSERT_EQ(run.code, 1) << run.out;
  const json r = read_json(d.report());
  EXPECT_EQ(r["verdict"], "unhealthy");
  EXPECT_EQ(r["world_size"], 2);
  ASSERT_FALSE(r["findings"].empty());
  EXPECT_EQ(r["findings"][0]["cause"], "lr_too_high") << r["findings"].dump(1);
  EXPECT_EQ(r["findings"][0]["status"], "confirmed") << r["findings"].dump(1);
  // The arm that confirmed it, with its numbers.
  ASSERT_TRUE(r.contains("confirmation")) << r.dump(1);
  const json& arms = r["confirmation"]["arms"];
  ASSERT_FALSE(arms.empty());
  EXPECT_EQ(arms[0]["causes"][0], "lr_too_high");
  EXPECT_EQ(arms[0]["status"], "confirmed");
  EXPECT_GT(arms[0]["steps"].get<int64_t>(), 0);
  EXPECT_LE(arms[0]["steps"].get<int64_t>(), arms[0]["window"].get<int64_t>());
  ASSERT_FALSE(arms[0]["measures"].empty());
  EXPECT_TRUE(any_note_has(r["confirmation"]["notes"], "every rerun trained on all 2 ranks"))
      << r["confirmation"]["notes"].dump(1);
  EXPECT_FALSE(any_note_has(r["notes"], "not confirmed")) << r["notes"].dump(1);
  // Only rank 0 reports.
  EXPECT_EQ(run.out.find("verdict: unhealthy"), run.out.rfind("verdict: unhealthy")) << run.out;
  EXPECT_NE(run.out.find("confirmed"), std::string::npos) << run.out;
}

TEST(DistributedConfirmCli, AHealthyTwoRankRunStaysHealthyWithConfirmationOn) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const auto run = diagnose(d);
  ASSERT_EQ(run.code, 0) << run.out;
  const json r = read_json(d.report());
  EXPECT_EQ(r["verdict"], "healthy");
  EXPECT_EQ(r["findings"][0]["cause"], "healthy");
  EXPECT_FALSE(any_note_has(r["notes"], "not confirmed")) << r["notes"].dump(1);
}

TEST(DistributedConfirmCli, NoConfirmLeavesTheFindingsSuspectedWithoutReruns) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const auto run = diagnose(d, "--set optimizer.lr=5 --no-confirm");
  ASSERT_EQ(run.code, 1) << run.out;
  const json r = read_json(d.report());
  EXPECT_EQ(r["findings"][0]["cause"], "lr_too_high") << r["findings"].dump(1);
  EXPECT_EQ(r["findings"][0]["status"], "suspected");
  EXPECT_FALSE(r.contains("confirmation") && !r["confirmation"].is_null()) << r.dump(1);
  EXPECT_FALSE(any_note_has(r["notes"], "not confirmed")) << r["notes"].dump(1);
}

TEST(DistributedConfirmCli, ARankThatDiesDuringARerunEndsTheJobWithAMessageAndNoReport) {
  SKIP_WITHOUT_GLOO();
  // Rank 1 (a follower) exits with status 3 just before step 20 of the first rerun; the
  // diagnosis run has stopped at step 100 by then, so the job dies mid-confirmation.
  {
    Dir d;
    const auto run = diagnose(d, "--set optimizer.lr=5", "LOSSDOCTOR_TEST_EXIT_IN_RERUN=1:20");
    EXPECT_EQ(run.code, 1) << run.out;
    EXPECT_FALSE(run.signalled) << run.out;
    EXPECT_NE(run.out.find("rank 1: LOSSDOCTOR_TEST_EXIT_IN_RERUN: exiting with status 3 at "
                           "step 20"),
              std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("diagnose --nproc 2: rank 1 exited with status 3"), std::string::npos)
        << run.out;
    EXPECT_FALSE(fs::exists(d.report())) << "no report of half a confirmation";
  }
  // Rank 0 (the one that judges) dies instead: rank 1 is left waiting in the rerun's collectives.
  {
    Dir d;
    const auto run = diagnose(d, "--set optimizer.lr=5", "LOSSDOCTOR_TEST_EXIT_IN_RERUN=0:20");
    EXPECT_NE(run.code, 0) << run.out;
    EXPECT_FALSE(run.signalled) << run.out;
    EXPECT_NE(run.out.find("diagnose --nproc 2: rank 0 exited with status 3"), std::string::npos)
        << run.out;
    EXPECT_FALSE(fs::exists(d.report())) << "no report of half a confirmation";
  }
}

}  // namespace
