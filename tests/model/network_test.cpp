#include "lossdoctor/model/network.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lossdoctor/model/init.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::model {
namespace {

using Kind = spec::LayerSpec::Kind;

spec::LayerSpec layer(Kind kind) {
  spec::LayerSpec l;
  l.kind = kind;
  l.key_path = "model.layers[0]." + layer_kind_name(kind);
  l.where = {"test.yaml", 7, 5, ""};
  return l;
}

spec::LayerSpec conv(int64_t filters, int64_t kernel, bool same = true) {
  auto l = layer(Kind::Conv2d);
  l.filters = filters;
  l.kernel = kernel;
  l.same_padding = same;
  return l;
}

spec::LayerSpec dense(int64_t units) {
  auto l = layer(Kind::Dense);
  l.units = units;
  return l;
}

std::vector<spec::LayerSpec> small_cnn() {
  auto pool = layer(Kind::MaxPool);
  pool.size = 2;
  return {conv(8, 3), layer(Kind::BatchNorm), layer(Kind::ReLU),
          pool,       layer(Kind::Flatten),   dense(10)};
}

TEST(Network, InfersShapesLayerByLayer) {
  Network net = make_network(small_cnn(), {}, {1, 28, 28});
  const auto& layers = net->layers();
  ASSERT_EQ(layers.size(), 6u);
  EXPECT_EQ(layers[0].output_shape, (std::vector<int64_t>{8, 28, 28}));
  EXPECT_EQ(layers[3].output_shape, (std::vector<int64_t>{8, 14, 14}));
  EXPECT_EQ(layers[4].output_shape, (std::vector<int64_t>{8 * 14 * 14}));
  EXPECT_EQ(net->output_shape(), (std::vector<int64_t>{10}));
  const torch::Tensor out = net->forward(torch::randn({4, 1, 28, 28}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{4, 10}));
}

TEST(Network, ValidPaddingAndStrideShrinkTheImage) {
  auto c = conv(4, 5, /*same=*/false);
  c.stride = 2;
  Network net = make_network({c}, {}, {3, 32, 32});
  EXPECT_EQ(net->output_shape(), (std::vector<int64_t>{4, 14, 14}));  // (32 - 5) / 2 + 1
  EXPECT_EQ(net->forward(torch::zeros({1, 3, 32, 32})).sizes(),
            (std::vector<int64_t>{1, 4, 14, 14}));
}

TEST(Network, KernelLargerThanInputNamesTheLayer) {
  auto big = conv(4, 7, /*same=*/false);
  big.key_path = "model.layers[2].conv2d";
  big.where = {"spec.yaml", 14, 7, ""};
  try {
    Network net = make_network({big}, {}, {1, 5, 5});
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "spec.yaml:14:7: model.layers[2].conv2d: kernel 7 is larger than its input 5 (padding 0)");
  }
}

TEST(Network, DenseOnImageAsksForFlatten) {
  try {
    Network net = make_network({conv(4, 3), dense(10)}, {}, {1, 8, 8});
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("add `- flatten` before it"), std::string::npos)
        << e.what();
  }
}

TEST(Network, PoolTooLargeIsReported) {
  auto pool = layer(Kind::MaxPool);
  pool.size = 4;
  EXPECT_THROW(make_network({pool}, {}, {1, 3, 3}), SpecError);
}

TEST(Network, RepeatExpandsWithIndexedNames) {
  auto rep = layer(Kind::Repeat);
  rep.times = 3;
  rep.layers = {conv(4, 3), layer(Kind::ReLU)};
  Network net = make_network({rep, layer(Kind::GlobalAvgPool), dense(10)}, {}, {1, 8, 8});
  const auto& layers = net->layers();
  ASSERT_EQ(layers.size(), 8u);
  EXPECT_EQ(layers[0].name, "layers[0].repeat[0].layers[0].conv2d");
  EXPECT_EQ(layers[5].name, "layers[0].repeat[2].layers[1].relu");
  EXPECT_EQ(layers[6].output_shape, (std::vector<int64_t>{4}));
}

TEST(Network, ResidualAddsInputAndRejectsShapeChange) {
  auto res = layer(Kind::Residual);
  res.layers = {conv(2, 3)};
  Network net = make_network({res}, {}, {2, 6, 6});
  // With the inner conv zeroed, the block is the identity.
  for (auto& p : net->parameters()) p.data().zero_();
  const torch::Tensor x = torch::randn({3, 2, 6, 6});
  EXPECT_TRUE(torch::allclose(net->forward(x), x));
  EXPECT_EQ(net->all_layers().size(), 2u);

  res.layers = {conv(5, 3)};
  EXPECT_THROW(make_network({res}, {}, {2, 6, 6}), SpecError);
}

TEST(Network, ObserverSeesEveryLayerOutput) {
  Network net = make_network(small_cnn(), {}, {1, 12, 12});
  std::vector<std::string> seen;
  net->set_observer([&](const Layer& l, const torch::Tensor& out) {
    seen.push_back(l.name);
    EXPECT_EQ(out.size(0), 2);
  });
  net->forward(torch::randn({2, 1, 12, 12}));
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen.front(), "layers[0].conv2d");
}

TEST(Network, SameSeedSameWeights) {
  torch::manual_seed(5);
  Network a = make_network(small_cnn(), {}, {1, 8, 8});
  torch::manual_seed(5);
  Network b = make_network(small_cnn(), {}, {1, 8, 8});
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

double weight_std(const spec::InitScheme& scheme, int64_t out, int64_t in, int64_t k) {
  torch::manual_seed(0);
  torch::Tensor w = k > 0 ? torch::empty({out, in, k, k}) : torch::empty({out, in});
  apply_init(w, w, scheme);
  return w.std().item<double>();
}

TEST(Init, HeNormalStdMatchesFanIn) {
  spec::InitScheme he{spec::InitScheme::Kind::HeNormal};
  const double expected = std::sqrt(2.0 / (64 * 9));
  EXPECT_NEAR(weight_std(he, 128, 64, 3), expected, 0.05 * expected);
}

TEST(Init, GlorotNormalAndUniformMatchFans) {
  const double expected = std::sqrt(2.0 / (300 + 200));
  EXPECT_NEAR(weight_std({spec::InitScheme::Kind::GlorotNormal}, 200, 300, 0), expected,
              0.05 * expected);
  // U(-b, b) has std b/√3 with b = √(6/(in+out)): the same std as glorot normal.
  EXPECT_NEAR(weight_std({spec::InitScheme::Kind::GlorotUniform}, 200, 300, 0), expected,
              0.05 * expected);
  const double he = std::sqrt(2.0 / 300);
  EXPECT_NEAR(weight_std({spec::InitScheme::Kind::HeUniform}, 200, 300, 0), he, 0.05 * he);
}

TEST(Init, ExplicitSchemes) {
  spec::InitScheme normal{spec::InitScheme::Kind::Normal};
  normal.std = 5.0;
  EXPECT_NEAR(weight_std(normal, 100, 100, 0), 5.0, 0.25);
  spec::InitScheme uniform{spec::InitScheme::Kind::Uniform};
  uniform.a = 0.3;
  torch::Tensor w = torch::empty({100, 100});
  apply_init(w, w, uniform);
  EXPECT_LE(w.abs().max().item<double>(), 0.3);
  EXPECT_GT(w.abs().max().item<double>(), 0.29);
  spec::InitScheme constant{spec::InitScheme::Kind::Constant};
  constant.value = -5;
  apply_init(w, w, constant);
  EXPECT_TRUE(torch::all(w == -5).item<bool>());
}

TEST(Init, LayerOverridesModelAndModelOverridesDefault) {
  spec::InitSpec model_init;
  model_init.weight = spec::InitScheme{spec::InitScheme::Kind::Zeros};
  model_init.bias = spec::InitScheme{spec::InitScheme::Kind::Constant, 0, 0, 0.5};
  auto d = dense(4);
  auto d2 = dense(10);
  d2.init.weight = spec::InitScheme{spec::InitScheme::Kind::Constant, 0, 0, 2.0};
  Network net = make_network({layer(Kind::Flatten), d, d2}, model_init, {1, 2, 2});
  const auto& layers = net->layers();
  EXPECT_TRUE(torch::all(layers[1].weight == 0).item<bool>());
  EXPECT_TRUE(torch::all(layers[1].bias == 0.5).item<bool>());
  EXPECT_TRUE(torch::all(layers[2].weight == 2.0).item<bool>());
  EXPECT_TRUE(torch::all(layers[2].bias == 0.5).item<bool>());
}

TEST(Init, DefaultKeepsLibtorchInit) {
  torch::manual_seed(1);
  Network net = make_network({layer(Kind::Flatten), dense(50)}, {}, {1, 10, 10});
  const torch::Tensor w = net->layers()[1].weight;
  // libtorch's Linear default: U(-1/√in, 1/√in)
  EXPECT_LE(w.abs().max().item<double>(), 1.0 / std::sqrt(100.0) + 1e-6);
  EXPECT_GT(w.std().item<double>(), 0.03);
}

}  // namespace
}  // namespace lossdoctor::model
