// Rules on the network: normalisation, activations, dropout, initialisation, capacity.

#include <gtest/gtest.h>

#include "lint_test_util.hpp"

namespace lossdoctor::lint {
namespace {

using namespace testing;

std::string with_layers(const std::string& layers, const std::string& init = "{bias: zeros}") {
  SpecText t;
  t.layers = layers;
  t.init = init;
  return t.yaml();
}

// 1 conv + repeat 6 convs + 1 dense = 8 weight layers, relu, no batchnorm.
const char* kDeepRelu =
    "    - conv2d: {filters: 16, kernel: 3, padding: same}\n"
    "    - relu: {}\n"
    "    - repeat: {times: 6, layers: [{conv2d: {filters: 16, kernel: 3, padding: same}}, {relu: "
    "{}}]}\n"
    "    - global_avgpool: {}\n"
    "    - dense: {units: 10}\n";

TEST(DeepReluWithoutBatchnorm, DefaultInitFiresAndHeFixSilences) {
  Finding f = expect_fires_and_fix_silences("deep-relu-without-batchnorm", with_layers(kDeepRelu),
                                            "missing_normalization", "warning",
                                            {"8 weight layers", "default"});
  EXPECT_EQ(f.fix.at("model.init"), "{weight: he_normal, bias: zeros}");
}

TEST(DeepReluWithoutBatchnorm, PerLayerNormalInitGetsPerLayerFix) {
  std::string layers = std::string(kDeepRelu);
  layers.replace(layers.find("{filters: 16, kernel: 3, padding: same}"), 39,
                 "{filters: 16, kernel: 3, padding: same, init: {weight: normal, std: 0.1}}");
  Finding f = expect_fires_and_fix_silences("deep-relu-without-batchnorm",
                                            with_layers(layers, "{weight: he_normal}"),
                                            "missing_normalization", "warning", {"normal"});
  EXPECT_EQ(f.fix.at("model.layers[0].conv2d.init"), "{weight: he_normal}");
}

TEST(DeepReluWithoutBatchnorm, NearMisses) {
  expect_silent("deep-relu-without-batchnorm", with_layers(kDeepRelu, "{weight: he_normal}"));
  std::string bn = std::string(kDeepRelu) + "    - batchnorm: {}\n";
  expect_silent("deep-relu-without-batchnorm", with_layers(bn));
  std::string shallow =
      "    - conv2d: {filters: 16, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - repeat: {times: 5, layers: [{conv2d: {filters: 16, kernel: 3, padding: same}}, {relu: "
      "{}}]}\n"
      "    - global_avgpool: {}\n"
      "    - dense: {units: 10}\n";
  expect_silent("deep-relu-without-batchnorm", with_layers(shallow));  // 7 weight layers
}

TEST(DeepReluWithoutBatchnorm, VeryDeepWarnsEvenWithHe) {
  std::string deep = kDeepRelu;
  deep.replace(deep.find("times: 6"), 8, "times: 16");
  LintResult r = run("deep-relu-without-batchnorm", with_layers(deep, "{weight: he_normal}"));
  ASSERT_EQ(r.findings.size(), 1u);
  expect_finding(r.findings[0], "missing_normalization", "warning");
  EXPECT_TRUE(evidence_has(r.findings[0], "18 layers deep without residual"));
}

TEST(DeepSaturatingStack, FiresAndReluFixSilences) {
  const std::string layers =
      "    - flatten: {}\n"
      "    - dense: {units: 64}\n"
      "    - sigmoid: {}\n"
      "    - repeat: {times: 3, layers: [{dense: {units: 64}}, {tanh: {}}]}\n"
      "    - dense: {units: 10}\n";
  Finding f = expect_fires_and_fix_silences(
      "deep-saturating-stack", with_layers(layers), "saturating_activation", "warning",
      {"5 weight layers", "4 hidden sigmoid/tanh", "model.layers[2].sigmoid"});
  EXPECT_EQ(f.fix.at("model.layers[2]"), "relu");
  EXPECT_EQ(f.fix.at("model.layers[3].repeat.layers[1]"), "relu");
}

TEST(DeepSaturatingStack, NearMissShallow) {
  expect_silent(
      "deep-saturating-stack",
      with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - tanh: {}\n"
                  "    - dense: {units: 64}\n    - tanh: {}\n    - dense: {units: 10}\n"));
}

TEST(HeavyDropout, AllHalfOrMoreFiresAndFixSilences) {
  const std::string layers =
      "    - flatten: {}\n"
      "    - dense: {units: 128}\n"
      "    - relu: {}\n"
      "    - dropout: {rate: 0.5}\n"
      "    - repeat: {times: 2, layers: [{dense: {units: 128}}, {relu: {}}, {dropout: {rate: "
      "0.6}}]}\n"
      "    - dense: {units: 10}\n";
  Finding f = expect_fires_and_fix_silences("heavy-dropout", with_layers(layers),
                                            "excessive_regularization", "warning",
                                            {"dropout rate 0.5", "model.layers[3].dropout", "x2"});
  EXPECT_EQ(f.fix.at("model.layers[3].dropout.rate"), "0.25");
  EXPECT_EQ(f.fix.at("model.layers[4].repeat.layers[2].dropout.rate"), "0.25");
}

TEST(HeavyDropout, SingleVeryHighRateFires) {
  expect_fires_and_fix_silences(
      "heavy-dropout",
      with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n"
                  "    - dropout: {rate: 0.85}\n    - dense: {units: 10}\n"),
      "excessive_regularization", "warning", {"0.85"});
}

TEST(HeavyDropout, NearMisses) {
  // One classic dropout of 0.5, and two where one is mild.
  expect_silent("heavy-dropout",
                with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n"
                            "    - dropout: {rate: 0.5}\n    - dense: {units: 10}\n"));
  expect_silent(
      "heavy-dropout",
      with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - dropout: {rate: 0.5}\n"
                  "    - dense: {units: 64}\n    - dropout: {rate: 0.2}\n"
                  "    - dense: {units: 10}\n"));
}

const char* kSmallCnn =
    "    - conv2d: {filters: 32, kernel: 3, padding: same}\n"
    "    - batchnorm: {}\n"
    "    - relu: {}\n"
    "    - maxpool: {size: 2}\n"
    "    - flatten: {}\n"
    "    - dense: {units: 10}\n";

TEST(SymmetricInit, ZerosFireAndFixSilences) {
  Finding f = expect_fires_and_fix_silences(
      "symmetric-init", with_layers(kSmallCnn, "{weight: zeros, bias: zeros}"), "bad_init_scale",
      "error", {"model.layers[0].conv2d", "zeros", "model.init"});
  EXPECT_EQ(f.fix.at("model.init"), "{weight: he_normal, bias: zeros}");
}

TEST(SymmetricInit, PerLayerConstantFires) {
  std::string layers = kSmallCnn;
  layers.replace(layers.find("padding: same}"), 14,
                 "padding: same, init: {weight: constant, value: 0.1}}");
  Finding f = expect_fires_and_fix_silences("symmetric-init", with_layers(layers), "bad_init_scale",
                                            "error", {"constant"});
  EXPECT_EQ(f.fix.count("model.layers[0].conv2d.init"), 1u);
}

TEST(SymmetricInit, NearMissZeroLastLayerOnly) {
  std::string layers = kSmallCnn;
  layers.replace(layers.find("{units: 10}"), 11, "{units: 10, init: {weight: zeros}}");
  expect_silent("symmetric-init", with_layers(layers));
}

TEST(InitScale, LargeNormalStdIsAnError) {
  // dense fan_in = 32 * 14 * 14 = 6272: He std 0.0179; std 5 is 280x.
  std::string layers = kSmallCnn;
  layers.replace(layers.find("{units: 10}"), 11, "{units: 10, init: {weight: normal, std: 5.0}}");
  Finding f = expect_fires_and_fix_silences(
      "init-scale", with_layers(layers, "{weight: he_normal}"), "bad_init_scale", "error",
      {"model.layers[5].dense", "std 5", "0.0179"});
  EXPECT_EQ(f.fix.at("model.layers[5].dense.init"), "{weight: he_normal}");
}

TEST(InitScale, TinyModelLevelStdIsAWarning) {
  Finding f = expect_fires_and_fix_silences("init-scale",
                                            with_layers(kSmallCnn, "{weight: normal, std: 0.0001}"),
                                            "bad_init_scale", "warning", {"0.0001"});
  EXPECT_EQ(f.fix.at("model.init"), "{weight: he_normal}");
}

TEST(InitScale, UsesTheContextInputShape) {
  // 3 input channels: conv fan_in 27, He std 0.272; uniform a = 5 has std 2.89 = 10.6x.
  LintContext ctx;
  ctx.input_shape = std::array<int64_t, 3>{3, 32, 32};
  expect_fires_and_fix_silences("init-scale", with_layers(kSmallCnn, "{weight: uniform, a: 5.0}"),
                                "bad_init_scale", "error", {"model.layers[0].conv2d"}, ctx);
}

TEST(InitScale, NearMiss) {
  // fan_in 9: He std 0.471; std 0.1 is 0.21x.
  expect_silent("init-scale", with_layers(kSmallCnn, "{weight: normal, std: 0.1}"));
}

TEST(NegativeBiasRelu, FiresAndFixSilences) {
  Finding f = expect_fires_and_fix_silences(
      "negative-bias-relu",
      with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n"
                  "    - dense: {units: 10}\n",
                  "{weight: he_normal, bias: {constant: {value: -2}}}"),
      "bad_init_scale", "warning", {"model.layers[1].dense", "-2"});
  EXPECT_EQ(f.fix.at("model.init"), "{weight: he_normal, bias: zeros}");
}

TEST(NegativeBiasRelu, NearMisses) {
  expect_silent("negative-bias-relu",
                with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n"
                            "    - dense: {units: 10}\n",
                            "{bias: {constant: {value: -0.5}}}"));
  expect_silent("negative-bias-relu",
                with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - tanh: {}\n"
                            "    - dense: {units: 10}\n",
                            "{bias: {constant: {value: -2}}}"));
}

TEST(DenseBottleneck, FiresAndFixSilences) {
  Finding f = expect_fires_and_fix_silences(
      "dense-bottleneck",
      with_layers("    - flatten: {}\n    - dense: {units: 4}\n    - relu: {}\n"
                  "    - dense: {units: 10}\n"),
      "insufficient_capacity", "warning", {"model.layers[1].dense", "4 units", "10 classes"});
  EXPECT_EQ(f.fix.at("model.layers[1].dense.units"), "64");
  expect_silent("dense-bottleneck",
                with_layers("    - flatten: {}\n    - dense: {units: 10}\n    - relu: {}\n"
                            "    - dense: {units: 10}\n"));
}

TEST(SpatialCollapse, ConvOnOneByOneMap) {
  const std::string layers =
      "    - conv2d: {filters: 32, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - maxpool: {size: 4}\n"
      "    - maxpool: {size: 7}\n"
      "    - conv2d: {filters: 64, kernel: 1}\n"
      "    - relu: {}\n"
      "    - flatten: {}\n"
      "    - dense: {units: 10}\n";
  LintResult r = run("spatial-collapse", with_layers(layers));
  ASSERT_EQ(r.findings.size(), 1u);
  expect_finding(r.findings[0], "insufficient_capacity", "warning");
  EXPECT_TRUE(
      evidence_has(r.findings[0], "model.layers[3].maxpool reduces the feature map to 1x1") ||
      evidence_has(r.findings[0], "(model.layers[3].maxpool) reduces"));
  EXPECT_TRUE(evidence_has(r.findings[0], "model.layers[4].conv2d) then runs on a 1x1 map"));
}

TEST(SpatialCollapse, NarrowFlattenFiresAndFixSilences) {
  const std::string layers =
      "    - conv2d: {filters: 8, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - maxpool: {size: 28}\n"
      "    - flatten: {}\n"
      "    - dense: {units: 10}\n";
  Finding f = expect_fires_and_fix_silences("spatial-collapse", with_layers(layers),
                                            "insufficient_capacity", "warning",
                                            {"8 features", "input 1x28x28"});
  EXPECT_EQ(f.fix.at("model.layers[0].conv2d.filters"), "40");
}

TEST(SpatialCollapse, NearMisses) {
  expect_silent("spatial-collapse", with_layers(kSmallCnn));
  // Global average pooling to few channels is a deliberate design (all-conv nets).
  expect_silent("spatial-collapse",
                with_layers("    - conv2d: {filters: 10, kernel: 3}\n    - global_avgpool: {}\n"
                            "    - dense: {units: 10}\n"));
}

}  // namespace
}  // namespace lossdoctor::lint
