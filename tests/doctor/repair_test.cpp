// repair: tiny Fashion-MNIST specs (2000 training images, 100-step budgets, 1 thread). A spec
// with a fault is repaired by its confirmed fix, written back with the reason, and trains better;
// a healthy spec is left alone and nothing is written.

#include "lossdoctor/doctor/repair.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "experiment/tiny_spec.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::doctor {
namespace {

namespace fs = std::filesystem;

using experiment::test::kData;
using experiment::test::tiny_spec;

class RepairRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kData)) GTEST_SKIP() << "Fashion-MNIST not installed";
    dir_ = fs::temp_directory_path() /
           ("ld-repair-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_spec(const std::string& text) {
    const std::string path = (dir_ / "spec.yaml").string();
    std::ofstream(path) << text;
    return path;
  }
  static RepairOptions options(const std::string& out) {
    RepairOptions o;
    o.out_path = out;
    o.final_max_steps = 100;
    o.diagnose.progress = train::Progress::Quiet;
    o.diagnose.label_agreement = false;  // not about labels; seconds per round
    o.confirm.max_cost_ratio = 0;  // no cost budget: every arm runs to its decision
    return o;
  }
  fs::path dir_;
};

TEST_F(RepairRuns, AdamAtLrOneIsRepairedByTheConfirmedLrFix) {
  const std::string path = write_spec(tiny_spec("{type: adam, lr: 1.0}"));
  const std::string out = (dir_ / "out" / "fixed.yaml").string();
  fs::create_directories(dir_ / "out");
  const RepairResult r = repair(path, {}, options(out));

  ASSERT_GE(r.rounds.size(), 2u) << r.stop_reason;
  const auto& first = r.rounds.front().report;
  ASSERT_FALSE(first.findings.empty());
  EXPECT_EQ(first.findings.front().cause, "lr_too_high");
  EXPECT_EQ(first.findings.front().status, "confirmed");
  EXPECT_TRUE(r.healthy) << r.stop_reason << "\n" << render_text(r, false);

  // The written spec parses, carries a lower rate, and says why next to the key.
  ASSERT_EQ(r.out_path, out);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const spec::Spec fixed = spec::parse_spec_text(text, out);
  EXPECT_LT(fixed.optimizer.lr, 0.1);
  EXPECT_NE(text.find("fixes lr_too_high (confirmed"), std::string::npos) << text;
  EXPECT_NE(text.find("(was: 1.0)"), std::string::npos) << text;

  // Before/after for the same budget: the repaired run learns, the original does not.
  ASSERT_TRUE(r.before && r.after);
  EXPECT_EQ(r.before->steps, 100);
  EXPECT_EQ(r.after->steps, 100);
  EXPECT_GT(r.after->val_accuracy, r.before->val_accuracy + 0.2)
      << r.before->val_accuracy << " → " << r.after->val_accuracy;
  EXPECT_LT(r.after->train_loss, r.before->train_loss);
  EXPECT_GT(r.plain_run_seconds, 0);
  EXPECT_GT(r.seconds, r.plain_run_seconds);

  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["command"], "repair");
  EXPECT_EQ(j["verdict"], "healthy");
  EXPECT_EQ(j["edits"][0]["key"], "optimizer.lr");
  EXPECT_TRUE(j["time_vs_plain_run"].is_number());
  EXPECT_EQ(j["rounds"][0]["report"]["findings"][0]["status"], "confirmed");
}

TEST_F(RepairRuns, AHealthySpecIsLeftAloneAndNothingIsWritten) {
  const std::string path = write_spec(tiny_spec("{type: adam, lr: 0.001}"));
  const std::string out = (dir_ / "fixed.yaml").string();
  RepairOptions o = options(out);
  o.final_training = false;
  const RepairResult r = repair(path, {}, o);
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.rounds.size(), 1u);
  EXPECT_TRUE(r.edits.empty());
  EXPECT_NE(r.stop_reason.find("nothing to repair"), std::string::npos) << r.stop_reason;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(r.before.has_value());
}

}  // namespace
}  // namespace lossdoctor::doctor
