// Rules on data preparation.

#include <gtest/gtest.h>

#include "lint_test_util.hpp"

namespace lossdoctor::lint {
namespace {

using namespace testing;

std::string with_transforms(const std::string& train, const std::string& val = "",
                            const std::string& optimizer = "{type: adam, lr: 0.001}",
                            const std::string& shuffle = "true") {
  SpecText t;
  t.data =
      "data:\n  format: idx\n  path: /usr/share/datasets/fashion-mnist\n  shuffle: " + shuffle +
      "\n  transforms:\n    train: " + train + "\n" + (val.empty() ? "" : "    val: " + val + "\n");
  t.optimizer = optimizer;
  return t.yaml();
}

TEST(UnnormalizedInput, RawPixelsWarningWithAdamErrorWithSgd) {
  Finding f = expect_fires_and_fix_silences("unnormalized-input", with_transforms("[]"),
                                            "unnormalized_input", "warning", {"no scale step"});
  EXPECT_EQ(f.fix.at("data.transforms.train"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]");
  expect_fires_and_fix_silences(
      "unnormalized-input",
      with_transforms("[{random_flip: horizontal}]", "", "{type: sgd, lr: 0.01}"),
      "unnormalized_input", "error", {"random_flip"});
}

TEST(UnnormalizedInput, NormalizeWithUnitStatisticsOnRawPixels) {
  Finding f = expect_fires_and_fix_silences(
      "unnormalized-input", with_transforms("[{normalize: {mean: [0.286], std: [0.353]}}]"),
      "unnormalized_input", "warning", {"mean 0.286", "test.yaml:"});
  EXPECT_TRUE(lint_spec(parse(with_transforms("[{normalize: {mean: [0.286], std: [0.353]}}]"),
                              overrides_of(f)))
                  .findings.empty());
}

TEST(UnnormalizedInput, FixAlsoAlignsExplicitValTransforms) {
  const std::string yaml = with_transforms("[]", "[]");
  Finding f = expect_fires_and_fix_silences("unnormalized-input", yaml, "unnormalized_input",
                                            "warning", {});
  EXPECT_EQ(f.fix.count("data.transforms.val"), 1u);
  EXPECT_TRUE(lint_spec(parse(yaml, overrides_of(f))).findings.empty());
}

TEST(UnnormalizedInput, NearMisses) {
  expect_silent("unnormalized-input", with_transforms("[{scale: 0.00392156862745098}]"));
  expect_silent("unnormalized-input",
                with_transforms("[{normalize: {mean: [72.9], std: [90.0]}}]"));  // 0-255 stats
}

/// Fashion-MNIST's raw pixel statistics, as the doctor's lint context measures them.
LintContext fashion_pixels() {
  LintContext ctx;
  ctx.pixel_mean = {72.94};
  ctx.pixel_std = {90.02};
  return ctx;
}

TEST(UnnormalizedInput, ScaledButNotCentredIsAnInfoWorthATest) {
  const std::string yaml = with_transforms("[{scale: 0.00392156862745098}]");
  Finding f =
      expect_fires_and_fix_silences("unnormalized-input", yaml, "unnormalized_input", "info",
                                    {"no normalize step", "average 0.286"}, fashion_pixels());
  EXPECT_EQ(f.fix.at("data.transforms.train"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]");
  // Explicit validation transforms get the same step.
  const std::string both =
      with_transforms("[{scale: 0.00392156862745098}]", "[{scale: 0.00392156862745098}]");
  f = expect_fires_and_fix_silences("unnormalized-input", both, "unnormalized_input", "info", {},
                                    fashion_pixels());
  EXPECT_EQ(f.fix.at("data.transforms.val"), f.fix.at("data.transforms.train"));
}

TEST(UnnormalizedInput, RawPixelsOfUnknownDataAreStandardisedWithTheirOwnStatistics) {
  // Not Fashion-MNIST: the fix scales and normalises with the measured statistics (scaling alone
  // trained worse than raw pixels on held-out zoo 7's ELU network without batch norm).
  SpecText t;
  t.data =
      "data:\n  format: idx\n  path: /data/curves\n  shuffle: true\n  transforms:\n"
      "    train: []\n";
  LintContext rgb;
  rgb.pixel_mean = {115.8, 117.3, 116.0};
  rgb.pixel_std = {57.6, 58.4, 56.9};
  Finding f = expect_fires_and_fix_silences("unnormalized-input", t.yaml(), "unnormalized_input",
                                            "warning", {"no scale step"}, rgb);
  EXPECT_EQ(f.fix.at("data.transforms.train"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.454, 0.46, 0.455], std: "
            "[0.226, 0.229, 0.223]}}]");
  // Without statistics: the scale alone, as before.
  f = expect_fires_and_fix_silences("unnormalized-input", t.yaml(), "unnormalized_input", "warning",
                                    {"no scale step"});
  EXPECT_EQ(f.fix.at("data.transforms.train"), "[{scale: 0.00392156862745098}]");
}

TEST(UnnormalizedInput, NormalizeFarFromTheDataStatisticsIsAnInfoWorthATest) {
  // The popular mean 0.5 / std 0.5 on data whose std is 0.18 (after the scale): the inputs reach
  // the network with std 0.36. The fix puts the measured statistics in its place.
  LintContext narrow;
  narrow.pixel_mean = {127.0};  // 0.498 after the scale
  narrow.pixel_std = {46.2};    // 0.181
  const std::string yaml =
      with_transforms("[{scale: 0.00392156862745098}, {normalize: {mean: [0.5], std: [0.5]}}]");
  Finding f = expect_fires_and_fix_silences(
      "unnormalized-input", yaml, "unnormalized_input", "info",
      {"normalize at test.yaml:", "reach the network with mean 0 and std 0.36"}, narrow);
  EXPECT_EQ(f.fix.at("data.transforms.train"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.498], std: [0.181]}}]");
  // Near misses: inputs at std 0.72 (Fashion-MNIST with 0.5 / 0.5), or off-centre by less than
  // one; and a normalize followed by another scale is left alone.
  expect_silent("unnormalized-input", yaml, fashion_pixels());
  LintContext shifted = narrow;
  shifted.pixel_std = {100.0};  // std 0.78, mean (0.498 - 0.5) / 0.5 = 0
  expect_silent("unnormalized-input", yaml, shifted);
  expect_silent(
      "unnormalized-input",
      with_transforms("[{scale: 0.00392156862745098}, {normalize: {mean: [0.5], std: [0.5]}}, "
                      "{scale: 2.0}]"),
      narrow);
  // Off-centre: mean 0 given for data averaging 0.7 with std 0.2: mean 3.5 as seen.
  LintContext bright;
  bright.pixel_mean = {178.5};
  bright.pixel_std = {51.0};
  expect_fires_and_fix_silences(
      "unnormalized-input",
      with_transforms("[{scale: 0.00392156862745098}, {normalize: {mean: [0.0], std: [0.2]}}]"),
      "unnormalized_input", "info", {"reach the network with mean 3.5 and std 1"}, bright);
}

TEST(UnnormalizedInput, CentredOrUnmeasuredInputsAreNotFlagged) {
  LintContext centred;
  centred.pixel_mean = {10.0};  // |mean| / std = 0.1
  centred.pixel_std = {100.0};
  const std::string yaml = with_transforms("[{scale: 0.00392156862745098}]");
  expect_silent("unnormalized-input", yaml, centred);
  expect_silent("unnormalized-input", yaml);  // no statistics: nothing to propose
  expect_silent(
      "unnormalized-input",
      with_transforms("[{scale: 0.00392156862745098}, {normalize: {mean: [0.5], std: [0.5]}}]"),
      fashion_pixels());
}

TEST(DoubleScaling, TwiceBy255FiresAndFixSilences) {
  const std::string yaml = with_transforms(
      "[{scale: 0.00392156862745098}, {scale: 0.00392156862745098}, "
      "{normalize: {mean: [0.286], std: [0.353]}}]");
  Finding f =
      expect_fires_and_fix_silences("double-scaling", yaml, "unnormalized_input", "warning",
                                    {"scale 0.00392156862745098 at test.yaml:", "1.54e-05"});
  EXPECT_EQ(f.fix.at("data.transforms.train"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]");
  EXPECT_TRUE(lint_spec(parse(yaml, overrides_of(f))).findings.empty());
}

TEST(DoubleScaling, NearMissTwoScalesThatMakeOne255th) {
  expect_silent("double-scaling", with_transforms("[{scale: 0.5}, {scale: 0.00784313725490196}]"));
  expect_silent("double-scaling", with_transforms("[{scale: 0.00392156862745098}]"));
}

TEST(ValTransformsMismatch, MissingNormalizeFiresAndFixSilences) {
  const std::string train =
      "[{random_crop: {size: 28, padding: 2}}, {scale: 0.00392156862745098}, "
      "{normalize: {mean: [0.286], std: [0.353]}}]";
  const std::string yaml = with_transforms(train, "[{scale: 0.00392156862745098}]");
  Finding f = expect_fires_and_fix_silences(
      "val-transforms-mismatch", yaml, "preprocessing_mismatch", "error",
      {"train (deterministic steps) = [{scale: 0.00392156862745098}, {normalize",
       "val = [{scale: 0.00392156862745098}] at test.yaml:", "step 1"});
  EXPECT_EQ(f.fix.at("data.transforms.val"),
            "[{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]");
}

TEST(ValTransformsMismatch, NearMisses) {
  // Same deterministic steps; augmentations only in train.
  expect_silent("val-transforms-mismatch",
                with_transforms("[{random_flip: horizontal}, {scale: 0.00392156862745098}]",
                                "[{scale: 0.00392156862745098}]"));
  // No explicit val transforms: val is derived from train.
  expect_silent("val-transforms-mismatch", with_transforms("[{scale: 0.00392156862745098}]"));
}

TEST(UnshuffledData, FiresAndFixSilences) {
  const std::string yaml =
      with_transforms("[{scale: 0.00392156862745098}]", "", "{type: adam, lr: 0.001}", "false");
  Finding f = expect_fires_and_fix_silences("unshuffled-data", yaml, "unshuffled_data", "error",
                                            {"data.shuffle = false", "test.yaml"});
  EXPECT_EQ(f.fix.at("data.shuffle"), "true");
}

TEST(UnshuffledData, NearMiss) {
  expect_silent("unshuffled-data", with_transforms("[{scale: 0.00392156862745098}]"));
}

}  // namespace
}  // namespace lossdoctor::lint
