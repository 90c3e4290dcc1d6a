// The plan is the network as arithmetic: it must agree with the built network layer for layer,
// and refuse what cannot be built or cannot fit before anything is allocated.
#include "lossdoctor/model/plan.hpp"

#include <gtest/gtest.h>

#include "lossdoctor/model/network.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::model {
namespace {

std::vector<spec::LayerSpec> layers_of(const std::string& yaml_layers) {
  return spec::parse_spec_text("model:\n  layers:\n" + yaml_layers, "plan.yaml").layers;
}

const char* kMixed = R"(    - conv2d: {filters: 6, kernel: 4, padding: same}
    - batchnorm: {}
    - relu: {}
    - conv2d: {filters: 8, kernel: 3, stride: 2, padding: same, bias: false}
    - residual: {layers: [{conv2d: {filters: 8, kernel: 3, padding: same}}, relu]}
    - repeat: {times: 2, layers: [{conv2d: {filters: 8, kernel: 1}}, gelu]}
    - avgpool: {size: 2}
    - conv2d: {filters: 5, kernel: 3, padding: 1}
    - global_avgpool: {}
    - batchnorm: {}
    - dense: {units: 7}
    - log_softmax: {}
)";

TEST(Plan, AgreesWithTheBuiltNetworkOnShapesAndParameters) {
  const auto layers = layers_of(kMixed);
  const std::vector<int64_t> input{3, 17, 15};
  const NetworkPlan plan = plan_network(layers, input);
  const Network net = make_network(layers, {}, input);
  EXPECT_EQ(plan.output_shape, net->output_shape());
  EXPECT_EQ(plan.parameters, net->parameter_count());
  EXPECT_EQ(plan.layers, static_cast<int64_t>(net->all_layers().size()));
  int64_t activations = 0;
  for (const Layer* l : net->all_layers()) {
    int64_t n = 1;
    for (int64_t d : l->output_shape) n *= d;
    activations += n;
  }
  EXPECT_EQ(plan.activations_per_sample, activations);
}

TEST(Plan, RefusesAnExpandedRepeatBombByItsKeyWithoutWalkingIt) {
  const auto layers = layers_of(
      "    - repeat: {times: 10000, layers: [{repeat: {times: 10000, layers: [relu]}}]}\n");
  try {
    plan_network(layers, {1, 8, 8});
    FAIL() << "expected a SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "model.layers[0].repeat");
    EXPECT_NE(e.message().find("100000000 layers"), std::string::npos) << e.what();
  }
}

TEST(Plan, RefusesMoreThanTheParameterLimitNamingTheLayer) {
  const auto layers = layers_of(
      "    - flatten: {}\n    - dense: {units: 1000000}\n    - dense: {units: 1000000}\n");
  try {
    plan_network(layers, {1, 28, 28});
    FAIL() << "expected a SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "model.layers[2].dense");
    EXPECT_NE(e.message().find("parameters"), std::string::npos);
  }
}

TEST(Plan, WidthsThatWouldOverflowSaturateIntoTheLimit) {
  const auto layers = layers_of(
      "    - conv2d: {filters: 1000000, kernel: 1024, padding: 1024}\n"
      "    - conv2d: {filters: 1000000, kernel: 1024}\n");
  EXPECT_THROW(plan_network(layers, {3, 8, 8}), SpecError);
}

TEST(Plan, ShapeErrorsNameTheLayer) {
  try {
    plan_network(layers_of("    - conv2d: {filters: 2, kernel: 3}\n    - dense: {units: 3}\n"),
                 {1, 8, 8});
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "model.layers[1].dense");
    EXPECT_NE(e.message().find("flatten"), std::string::npos);
  }
  EXPECT_THROW(plan_network(layers_of("    - maxpool: {size: 9}\n"), {1, 8, 8}), SpecError);
  EXPECT_THROW(plan_network(layers_of("    - residual: {layers: [{conv2d: {filters: 3, "
                                      "kernel: 1}}]}\n"),
                            {1, 8, 8}),
               SpecError);
}

TEST(Plan, CheckModelFitsWantsOneScorePerClassAndMemoryThatExists) {
  spec::Spec s = spec::parse_spec_text(
      "model:\n  layers:\n    - flatten: {}\n    - dense: {units: 4}\nbatch_size: 8\n", "fit.yaml");
  EXPECT_EQ(check_model_fits(s, {1, 8, 8}, 4).parameters, 64 * 4 + 4);
  try {
    check_model_fits(s, {1, 8, 8}, 10);
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "model.layers[1].dense");
    EXPECT_NE(e.message().find("units: 10"), std::string::npos);
  }
  // A batch of 10^6 samples with 1.6×10^8 activation values each: petabytes.
  s.batch_size = 1000000;
  s.layers = layers_of(
      "    - conv2d: {filters: 1000, kernel: 1, padding: same}\n"
      "    - global_avgpool: {}\n    - dense: {units: 4}\n");
  try {
    check_model_fits(s, {1, 400, 400}, 4);
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "model.layers");
    EXPECT_NE(e.message().find("batch_size 1000000"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lossdoctor::model
