// `lossdoctor train --nproc 2` (docs/distributed.md): two ranks on loopback finish with
// identical replicas and report the global batch; only rank 0 writes; a rank that dies ends the
// job with a message naming it and no half-written file; --resume continues a data-parallel
// run exactly. Each test is a few seconds of training on 64 Fashion-MNIST images; `timeout`
// bounds every run, and nothing depends on timing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/shell_run.hpp"
#include "lossdoctor/train/distributed.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 64 images, 2 ranks × batch 8: 4 steps an epoch, 3 epochs. Dropout: each rank's masks differ.
const char* kSpec = R"(name: ddp-tiny
seed: 4
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 64}
  val: {limit: 20}
  transforms:
    train: [{scale: 0.00392156862745098}]
    val: [{scale: 0.00392156862745098}]
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - batchnorm: {}
    - relu: {}
    - flatten: {}
    - dropout: {rate: 0.2}
    - dense: {units: 10}
optimizer: {type: adam, lr: 0.003}
batch_size: 8
epochs: 3
)";

struct Dir {
  fs::path path;
  Dir() {
    path = fs::temp_directory_path() /
           ("lossdoctor-ddp-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
    std::ofstream(path / "spec.yaml") << kSpec;
  }
  ~Dir() { fs::remove_all(path); }
};

lossdoctor::test::ShellRun train(const Dir& d, const std::string& args, const std::string& env = "",
                                 const std::string& spec = "") {
  // `timeout` is only a safety net against a hang: the job's own limit is --dist-timeout.
  return lossdoctor::test::run_shell(
      env + " timeout -s KILL 300 " + std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 train " +
      (spec.empty() ? (d.path / "spec.yaml").string() : spec) + " " + args);
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos)
      out.push_back(e.path().filename().string());
  }
  return out;
}

#define SKIP_WITHOUT_GLOO()                        \
  if (!lossdoctor::train::distributed_available()) \
  GTEST_SKIP() << "built without c10d's Gloo backend (libgloo-dev): train --nproc is off"

TEST(DistributedCli, TwoRanksTrainIdenticalReplicasAndReportTheGlobalBatch) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const auto run = train(d, "--nproc 2 --progress none --out " + (d.path / "run").string());
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("2 ranks × batch size 8 = global batch 16"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("replicas identical"), std::string::npos) << run.out;
  // Only rank 0 reports: the setup is printed once.
  EXPECT_EQ(run.out.find("64 training / 20 validation"),
            run.out.rfind("64 training / 20 validation"))
      << run.out;

  const json summary = read_json(d.path / "run" / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["world_size"], 2);
  EXPECT_EQ(summary["batch_size_per_rank"], 8);
  EXPECT_EQ(summary["global_batch_size"], 16);
  EXPECT_EQ(summary["replicas_identical"], true);
  EXPECT_EQ(summary["steps"], 12);  // 64 / 16 = 4 steps an epoch, 3 epochs
  EXPECT_EQ(lines(d.path / "run" / "steps.jsonl").size(), 12u);
  EXPECT_EQ(lines(d.path / "run" / "epochs.jsonl").size(), 3u);
  EXPECT_TRUE(temp_files(d.path / "run").empty());
}

TEST(DistributedCli, ADeadRankEndsTheJobWithAMessageAndNoHalfWrittenFile) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const fs::path out = d.path / "run";
  // Rank 1 exits with status 3 just before step 6 (an epoch's checkpoint came at step 4).
  const auto run = train(d, "--nproc 2 --progress none --dist-timeout 60 --out " + out.string(),
                         "LOSSDOCTOR_TEST_EXIT_AT=1:6");
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_FALSE(run.signalled) << run.out;
  EXPECT_NE(run.out.find("rank 1 exited with status 3"), std::string::npos) << run.out;
  EXPECT_TRUE(temp_files(out).empty());
  // What rank 0 wrote is whole: the last checkpoint's metrics parse, and resuming works.
  for (const auto& l : lines(out / "steps.jsonl")) EXPECT_NO_THROW(json::parse(l)) << l;
  const auto resumed = train(d, "--nproc 2 --progress none --resume --out " + out.string());
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_EQ(read_json(out / "summary.json")["steps"], 12);
}

TEST(DistributedCli, ResumeContinuesExactlyAsAnUninterruptedRun) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const auto whole = train(d, "--nproc 2 --progress none --out " + (d.path / "a").string());
  ASSERT_EQ(whole.code, 0) << whole.out;
  const auto first =
      train(d, "--nproc 2 --progress none --max-steps 5 --out " + (d.path / "b").string());
  ASSERT_EQ(first.code, 0) << first.out;
  const auto rest = train(d, "--nproc 2 --progress none --resume --out " + (d.path / "b").string());
  ASSERT_EQ(rest.code, 0) << rest.out;
  const auto losses = [](const fs::path& file) {
    std::vector<double> out;
    for (const auto& l : lines(file)) out.push_back(json::parse(l)["loss"].get<double>());
    return out;
  };
  EXPECT_EQ(losses(d.path / "a" / "steps.jsonl"), losses(d.path / "b" / "steps.jsonl"));
}

std::vector<double> step_losses(const fs::path& run) {
  std::vector<double> out;
  for (const auto& l : lines(run / "steps.jsonl"))
    out.push_back(json::parse(l)["loss"].get<double>());
  return out;
}

// model.sync_batchnorm: true — the batch-norm layer normalises over the global batch, so the
// running statistics agree too (the replica check then compares buffers as well), the run
// differs from per-rank batch norm, and resuming without the key is refused naming it. One
// process with the key trains exactly as without it.
TEST(DistributedCli, SyncBatchnormKeepsReplicasAndRunningStatisticsIdentical) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  std::string synced = kSpec;
  synced.replace(synced.find("model:\n"), 7, "model:\n  sync_batchnorm: true\n");
  std::ofstream(d.path / "synced.yaml") << synced;
  const std::string synced_spec = (d.path / "synced.yaml").string();

  const auto run =
      train(d, "--nproc 2 --progress none --out " + (d.path / "a").string(), "", synced_spec);
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("replicas identical"), std::string::npos) << run.out;
  const json summary = read_json(d.path / "a" / "summary.json");
  EXPECT_EQ(summary["replicas_identical"], true);
  EXPECT_EQ(summary["steps"], 12);

  const auto plain = train(d, "--nproc 2 --progress none --out " + (d.path / "b").string());
  ASSERT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(step_losses(d.path / "a"), step_losses(d.path / "b"));

  const auto resumed =
      train(d, "--nproc 2 --progress none --resume --out " + (d.path / "a").string());
  EXPECT_EQ(resumed.code, 2) << resumed.out;
  EXPECT_NE(resumed.out.find("model.sync_batchnorm"), std::string::npos) << resumed.out;

  const auto one_synced =
      train(d, "--progress none --max-steps 3 --out " + (d.path / "c").string(), "", synced_spec);
  const auto one_plain = train(d, "--progress none --max-steps 3 --out " + (d.path / "e").string());
  ASSERT_EQ(one_synced.code, 0) << one_synced.out;
  ASSERT_EQ(one_plain.code, 0) << one_plain.out;
  EXPECT_EQ(step_losses(d.path / "c"), step_losses(d.path / "e"));
}

TEST(DistributedCli, BadDistributedArgumentsAreBadInput) {
  Dir d;
  EXPECT_EQ(train(d, "--rank 0").code, 2);
  EXPECT_EQ(train(d, "--rank 2 --world-size 2 --master 127.0.0.1:1234").code, 2);
  EXPECT_EQ(train(d, "--rank 0 --world-size 2 --master nowhere").code, 2);
  EXPECT_EQ(train(d, "--nproc 0").code, 2);
  EXPECT_EQ(train(d, "--nproc 2 --rank 0 --world-size 2 --master 127.0.0.1:1234").code, 2);
  EXPECT_EQ(train(d, "--nproc 2 --dist-timeout 0").code, 2);
}

TEST(DistributedCli, ARankWhosePeerNeverComesEndsWithinTheTimeout) {
  SKIP_WITHOUT_GLOO();
  Dir d;
  const int port = lossdoctor::train::pick_free_port();
  const auto run =
      train(d, "--progress none --rank 0 --world-size 2 --dist-timeout 2 --master 127.0.0.1:" +
                   std::to_string(port));
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_NE(run.out.find("rank 0"), std::string::npos) << run.out;
}

}  // namespace
