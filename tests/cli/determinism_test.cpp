// Determinism at the command line: the same spec and seed with --threads 1 give the same
// findings, evidence and symptoms, run after run (timing fields aside). The metrics and
// checkpoint bytes of `train` are covered by ResumeCli.SameSeedOneThread...; this is the
// diagnosis on top of them, end to end.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/shell_run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 256 images, 16 steps, a learning rate high enough to find something: a few seconds.
const char* kSpec = R"(name: determinism
seed: 11
data:
  path: /usr/share/datasets/fashion-mnist
  train: {limit: 256}
  val: {limit: 64}
  transforms:
    train: [{scale: 0.00392156862745098}]
    val: [{scale: 0.00392156862745098}]
  inject: {label_noise: {fraction: 0.3}}
model:
  layers:
    - conv2d: {filters: 4, kernel: 3}
    - relu: {}
    - flatten: {}
    - dropout: {rate: 0.2}
    - dense: {units: 10}
optimizer: {type: sgd, lr: 0.8, momentum: 0.9}
batch_size: 32
epochs: 2
)";

lossdoctor::test::ShellRun cli(const std::string& args) {
  return lossdoctor::test::run_shell(std::string(LOSSDOCTOR_CLI_PATH) + " --threads 1 " + args);
}

/// The report without what the clock decides: every "seconds" field, at any depth.
json without_timing(json j) {
  if (j.is_object()) {
    j.erase("seconds");
    for (auto& [key, value] : j.items()) value = without_timing(value);
  } else if (j.is_array()) {
    for (auto& value : j) value = without_timing(value);
  }
  return j;
}

TEST(Determinism, SameSeedOneThreadGivesTheSameDiagnosisAndAudit) {
  const fs::path dir =
      fs::temp_directory_path() / ("lossdoctor_determinism_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path spec = dir / "spec.yaml";
  std::ofstream(spec) << kSpec;
  json diagnosis[2], audit[2];
  for (int i = 0; i < 2; ++i) {
    const fs::path d = dir / ("diagnose" + std::to_string(i) + ".json");
    const auto r =
        cli("diagnose " + spec.string() + " --no-confirm --progress none --json " + d.string());
    ASSERT_TRUE(r.code == 0 || r.code == 1) << r.out;
    diagnosis[i] = json::parse(std::ifstream(d));
    const fs::path a = dir / ("audit" + std::to_string(i) + ".json");
    const auto q = cli("audit " + spec.string() + " --no-labels --json " + a.string());
    ASSERT_TRUE(q.code == 0 || q.code == 1) << q.out;
    audit[i] = json::parse(std::ifstream(a));
  }
  // Something to compare: the run was diagnosed, with findings and the injected noise recorded.
  ASSERT_FALSE(diagnosis[0]["findings"].empty()) << diagnosis[0].dump(2);
  EXPECT_GT(diagnosis[0]["steps_run"].get<int>(), 0);
  EXPECT_EQ(without_timing(diagnosis[0]), without_timing(diagnosis[1]));
  EXPECT_EQ(without_timing(audit[0]), without_timing(audit[1]));
  fs::remove_all(dir);
}

}  // namespace
