// One real RunRecord per cause, recorded from the fault zoo and the Monitor loop bugs
// (tests/diagnose/fixtures/make_fixtures.sh), replayed through the detectors, the linter and the
// diagnoser: the cause each run was built to show must come out on top. Unlike the synthetic
// records, these carry every signal a real run produces, noise included.

#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::diagnose {
namespace {

std::string read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return text;
}

struct Recorded {
  const char* fixture;  ///< tests/diagnose/fixtures/<fixture>.gz
  const char* spec;     ///< zoo case whose spec is linted ("" for Monitor loops)
  const char* cause;
};

class RecordedRun : public ::testing::TestWithParam<Recorded> {};

TEST_P(RecordedRun, NamesTheCauseItWasBuiltToShow) {
  const Recorded& c = GetParam();
  const std::string root = LOSSDOCTOR_SOURCE_DIR;
  const std::string text = read_gz(root + "/tests/diagnose/fixtures/" + c.fixture + ".gz");
  ASSERT_FALSE(text.empty()) << c.fixture;
  const RunRecord record = report::record_from_json(nlohmann::json::parse(text));
  std::vector<Finding> lint_findings;
  if (*c.spec != '\0') {
    const spec::Spec spec = spec::parse_spec_file(root + "/bench/zoo/cases/" + c.spec + ".yaml");
    lint::LintContext ctx;
    ctx.input_shape = std::array<int64_t, 3>{1, 28, 28};
    ctx.num_classes = record.num_classes;
    lint_findings = lint::lint_spec(spec, ctx).findings;
  }
  const Diagnosis d = diagnose(record, detect_symptoms(record), lint_findings);
  ASSERT_FALSE(d.findings.empty());
  EXPECT_EQ(d.findings.front().cause, c.cause)
      << c.fixture << ": second " << (d.findings.size() > 1 ? d.findings[1].cause : "-");
  EXPECT_EQ(d.verdict, std::string(c.cause) == "healthy" ? "healthy" : "unhealthy");
  EXPECT_FALSE(d.findings.front().evidence.empty());
}

INSTANTIATE_TEST_SUITE_P(
    EveryCause, RecordedRun,
    ::testing::Values(
        Recorded{"data-label-noise-40.json", "data-label-noise-40", "label_noise"},
        Recorded{"data-corrupt-noise-30.json", "data-corrupt-noise-30", "corrupt_samples"},
        Recorded{"data-val-normalised-differently.json", "data-val-normalised-differently",
                 "preprocessing_mismatch"},
        Recorded{"data-raw-pixels-sgd.json", "data-raw-pixels-sgd", "unnormalized_input"},
        Recorded{"data-sorted-unshuffled.json", "data-sorted-unshuffled", "unshuffled_data"},
        Recorded{"data-imbalance-95.json", "data-imbalance-95", "class_imbalance"},
        Recorded{"init-normal-5.json", "init-normal-5", "bad_init_scale"},
        Recorded{"net-relu-20-no-bn.json", "net-relu-20-no-bn", "missing_normalization"},
        Recorded{"net-sigmoid-20.json", "net-sigmoid-20", "saturating_activation"},
        Recorded{"net-bottleneck-2.json", "net-bottleneck-2", "insufficient_capacity"},
        Recorded{"loss-softmax-into-logits.json", "loss-softmax-into-logits",
                 "loss_output_mismatch"},
        Recorded{"lr-adam-1.json", "lr-adam-1", "lr_too_high"},
        Recorded{"lr-adam-1e-7.json", "lr-adam-1e-7", "lr_too_low"},
        Recorded{"batch-2-batchnorm.json", "batch-2-batchnorm", "batch_too_small"},
        Recorded{"opt-adam-eps-1.json", "opt-adam-eps-1", "optimizer_misconfigured"},
        Recorded{"sched-exp-to-zero.json", "sched-exp-to-zero", "bad_lr_schedule"},
        Recorded{"reg-weight-decay-1.json", "reg-weight-decay-1", "excessive_regularization"},
        Recorded{"reg-clip-1e-4.json", "reg-clip-1e-4", "grad_clip_too_tight"},
        Recorded{"loop-no-zero-grad.json", "", "gradients_not_reset"},
        Recorded{"loop-wrong-params.json", "", "params_not_updated"},
        Recorded{"loop-negated-loss.json", "", "loss_sign_flipped"},
        Recorded{"ok-example.json", "ok-example", "healthy"}),
    [](const ::testing::TestParamInfo<Recorded>& info) {
      std::string name = info.param.cause;
      return name;
    });

}  // namespace
}  // namespace lossdoctor::diagnose
