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

/// Kind names of a layer list, repeat/residual bodies in brackets: "conv2d relu repeat[...]".
std::string kinds(const std::vector<spec::LayerSpec>& layers) {
  std::string out;
  for (const auto& L : layers) {
    out += (out.empty() ? "" : " ") + spec::layer_kind_name(L.kind);
    if (!L.layers.empty()) out += "[" + kinds(L.layers) + "]";
  }
  return out;
}

TEST(DeepReluWithoutBatchnorm, DefaultInitFiresAndBatchnormFixSilences) {
  const std::string yaml = with_layers(kDeepRelu);
  Finding f =
      expect_fires_and_fix_silences("deep-relu-without-batchnorm", yaml, "missing_normalization",
                                    "warning", {"8 weight layers", "default"});
  // The fix rewrites the whole list (an override cannot insert items) and nothing else.
  ASSERT_EQ(f.fix.size(), 1u);
  ASSERT_EQ(f.fix.count("model.layers"), 1u);
  EXPECT_EQ(f.fix.at("model.layers").find('\n'), std::string::npos) << "one flow line";
  const spec::Spec fixed = parse(yaml, overrides_of(f));
  EXPECT_EQ(kinds(fixed.layers),
            "conv2d batchnorm relu repeat[conv2d batchnorm relu] global_avgpool dense");
  EXPECT_EQ(fixed.layers[3].times, 6);
  EXPECT_EQ(fixed.layers[3].layers[0].filters, 16);
  EXPECT_TRUE(fixed.layers[3].layers[0].same_padding);
  EXPECT_EQ(fixed.layers[5].units, 10);
  EXPECT_FALSE(fixed.init.weight.has_value()) << "init untouched: default as before";
  EXPECT_TRUE(evidence_has(f, "default"));
}

TEST(DeepReluWithoutBatchnorm, BatchnormFixKeepsLayerSettingsAndSkipsTheOutputLayer) {
  // A residual body, a per-layer init, leaky_relu, a dense head followed by relu (the output
  // layer: no batch norm after it), and a conv followed by pooling (not an activation).
  const std::string layers =
      "    - conv2d: {filters: 8, kernel: 5, stride: 2, padding: 1, init: {weight: normal, std: "
      "0.1}}\n"
      "    - leaky_relu: {negative_slope: 0.2}\n"
      "    - repeat: {times: 3, layers: [{residual: {layers: [{conv2d: {filters: 8, kernel: 3, "
      "padding: same}}, {relu: {}}, {conv2d: {filters: 8, kernel: 3, padding: same}}]}}, {relu: "
      "{}}]}\n"
      "    - conv2d: {filters: 8, kernel: 3, padding: same}\n"
      "    - maxpool: {size: 2}\n"
      "    - flatten: {}\n"
      "    - dense: {units: 32}\n"
      "    - gelu: {}\n"
      "    - dense: {units: 10}\n"
      "    - relu: {}\n";
  const std::string yaml = with_layers(layers);
  Finding f =
      expect_fires_and_fix_silences("deep-relu-without-batchnorm", yaml, "missing_normalization",
                                    "warning", {"10 weight layers"});
  const spec::Spec fixed = parse(yaml, overrides_of(f));
  EXPECT_EQ(
      kinds(fixed.layers),
      "conv2d batchnorm leaky_relu repeat[residual[conv2d batchnorm relu conv2d] relu] conv2d "
      "maxpool flatten dense batchnorm gelu dense relu");
  const spec::LayerSpec& first = fixed.layers[0];
  EXPECT_EQ(first.kernel, 5);
  EXPECT_EQ(first.stride, 2);
  EXPECT_EQ(first.padding, 1);
  ASSERT_TRUE(first.init.weight.has_value());
  EXPECT_EQ(first.init.weight->kind, spec::InitScheme::Kind::Normal);
  EXPECT_DOUBLE_EQ(first.init.weight->std, 0.1);
  EXPECT_DOUBLE_EQ(fixed.layers[2].negative_slope, 0.2);
  EXPECT_EQ(fixed.layers[3].times, 3);
}

TEST(DeepReluWithoutBatchnorm, WithoutTheMergedDocumentFallsBackToHeInit) {
  spec::Spec s = parse(with_layers(kDeepRelu));
  s.resolved_yaml.clear();  // a spec built in code
  LintResult r = run("deep-relu-without-batchnorm", s);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].fix.count("model.layers"), 0u);
  EXPECT_EQ(r.findings[0].fix.at("model.init"), "{weight: he_normal, bias: zeros}");
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
  EXPECT_EQ(r.findings[0].fix.count("model.layers"), 1u) << "he init already: batch norm only";
  EXPECT_TRUE(run_fixed("deep-relu-without-batchnorm", with_layers(deep, "{weight: he_normal}"),
                        r.findings[0])
                  .findings.empty());
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

TEST(DeepSaturatingStack, ShallowHiddenSigmoidsAreInfo) {
  const std::string layers =
      "    - flatten: {}\n    - dense: {units: 64}\n    - sigmoid: {}\n"
      "    - dense: {units: 64}\n    - sigmoid: {}\n    - dense: {units: 10}\n";
  Finding f = expect_fires_and_fix_silences("deep-saturating-stack", with_layers(layers),
                                            "saturating_activation", "info",
                                            {"3 weight layers", "2 hidden sigmoid"});
  EXPECT_EQ(f.fix.at("model.layers[2]"), "relu");
  EXPECT_EQ(f.fix.at("model.layers[4]"), "relu");
  // Near misses: tanh (NearMissShallow above), and sigmoids outnumbered by ReLUs.
  expect_silent("deep-saturating-stack",
                with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - sigmoid: {}\n"
                            "    - dense: {units: 64}\n    - relu: {}\n    - dense: {units: 64}\n"
                            "    - relu: {}\n    - dense: {units: 10}\n"));
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

TEST(HeavyDropout, SingleRateAboveTheClassicHalfIsInfo) {
  // Worth a screening rerun, not an alarm: the fix halves it to 0.25, the mild layer stays.
  Finding f = expect_fires_and_fix_silences(
      "heavy-dropout",
      with_layers("    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n"
                  "    - dropout: {rate: 0.2}\n    - dense: {units: 64}\n"
                  "    - dropout: {rate: 0.6}\n    - dense: {units: 10}\n"),
      "excessive_regularization", "info", {"dropout rate 0.6", "above the classic 0.5"});
  EXPECT_EQ(f.fix.at("model.layers[5].dropout.rate"), "0.25");
  EXPECT_EQ(f.fix.count("model.layers[3].dropout.rate"), 0U);
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

TEST(InitScale, AFixedStdMoreThanTwiceOffHeSomewhereIsInfo) {
  // fan_in 9: He std 0.471, std 0.1 is 0.21x; the dense layer's fan_in 6272: He 0.0179, 5.6x.
  Finding f = expect_fires_and_fix_silences(
      "init-scale", with_layers(kSmallCnn, "{weight: normal, std: 0.1}"), "bad_init_scale", "info",
      {"model.layers[0].conv2d", "0.212x", "5.6x"});
  EXPECT_EQ(f.fix.at("model.init"), "{weight: he_normal}");
}

TEST(InitScale, NearMiss) {
  // A dense net on 28x28 inputs: fan_in 784 (He 0.0505) and 64 (He 0.177); std 0.1 is 1.98x and
  // 0.566x, inside the factor 2 both.
  expect_silent("init-scale", with_layers("    - flatten: {}\n    - dense: {units: 64}\n"
                                          "    - relu: {}\n    - dense: {units: 10}\n",
                                          "{weight: normal, std: 0.1}"));
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
  EXPECT_EQ(f.fix.at("model.layers[2].maxpool.size"), "2") << "pool by 2 instead of to 1x1";
}

TEST(SpatialCollapse, NearMisses) {
  expect_silent("spatial-collapse", with_layers(kSmallCnn));
  // Global average pooling to few channels is a deliberate design (all-conv nets).
  expect_silent("spatial-collapse",
                with_layers("    - conv2d: {filters: 10, kernel: 3}\n    - global_avgpool: {}\n"
                            "    - dense: {units: 10}\n"));
}

TEST(NarrowConvolution, OneFilterFiresAndTheWideningFixSilences) {
  const std::string layers =
      "    - conv2d: {filters: 1, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - residual: {layers: [{conv2d: {filters: 1, kernel: 3, padding: same}}, {relu: {}}]}\n"
      "    - maxpool: {size: 2}\n"
      "    - conv2d: {filters: 2, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - global_avgpool: {}\n"
      "    - dense: {units: 10}\n";
  Finding f = expect_fires_and_fix_silences("narrow-convolution", with_layers(layers),
                                            "insufficient_capacity", "warning",
                                            {"model.layers[0].conv2d", "1 filter for 10 classes"});
  // Every convolution, the residual body's too, widened 16×: the block's channels still match.
  EXPECT_EQ(f.fix.at("model.layers[0].conv2d.filters"), "16");
  EXPECT_EQ(f.fix.at("model.layers[4].conv2d.filters"), "32");
  EXPECT_EQ(f.fix.size(), 3u);
}

TEST(NarrowConvolution, AnAllConvolutionalNetworksClassifierKeepsItsWidth) {
  // The last 1x1 convolution gives the class scores before global pooling: widening it too
  // would make a model that no longer outputs 10 values.
  const std::string layers =
      "    - conv2d: {filters: 1, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - conv2d: {filters: 10, kernel: 1}\n"
      "    - global_avgpool: {}\n";
  Finding f = expect_fires_and_fix_silences("narrow-convolution", with_layers(layers),
                                            "insufficient_capacity", "warning",
                                            {"model.layers[0].conv2d", "1 filter for 10 classes"});
  EXPECT_EQ(f.fix.at("model.layers[0].conv2d.filters"), "16");
  EXPECT_EQ(f.fix.count("model.layers[2].conv2d.filters"), 0u);
}

TEST(NarrowConvolution, ThreeFiltersIsAnInfoForFourOrMoreClasses) {
  const std::string layers =
      "    - conv2d: {filters: 3, kernel: 3, padding: same}\n"
      "    - relu: {}\n"
      "    - flatten: {}\n"
      "    - dense: {units: 10}\n";
  LintResult r = run("narrow-convolution", with_layers(layers));
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].severity, "info");
}

TEST(NarrowConvolution, NearMisses) {
  expect_silent("narrow-convolution", with_layers(kSmallCnn));
  // Four filters (LeNet-like nets use six): not flagged.
  expect_silent("narrow-convolution",
                with_layers("    - conv2d: {filters: 4, kernel: 3}\n    - relu: {}\n"
                            "    - flatten: {}\n    - dense: {units: 10}\n"));
  // A one-filter convolution inside a residual body is a bottleneck block the skip bypasses.
  expect_silent(
      "narrow-convolution",
      with_layers("    - conv2d: {filters: 16, kernel: 3, padding: same}\n"
                  "    - residual: {layers: [{conv2d: {filters: 1, kernel: 1}}, {relu: {}},"
                  " {conv2d: {filters: 16, kernel: 1}}]}\n"
                  "    - flatten: {}\n    - dense: {units: 10}\n"));
}

}  // namespace
}  // namespace lossdoctor::lint
