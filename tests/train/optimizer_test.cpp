#include "lossdoctor/train/optimizer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace lossdoctor::train {
namespace {

using Kind = spec::OptimizerSpec::Kind;

/// Minimises (x - 3)² from x = 0 and returns x after `steps` steps.
double minimise(const spec::OptimizerSpec& spec, int steps) {
  torch::Tensor x = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
  Optimizer opt(spec, {x});
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    (x - 3).pow(2).sum().backward();
    opt.step();
  }
  return x.item<double>();
}

TEST(Optimizer, SgdStepByHand) {
  spec::OptimizerSpec spec;
  spec.kind = Kind::Sgd;
  spec.lr = 0.1;
  // x1 = 0 - 0.1 * 2(0 - 3) = 0.6
  EXPECT_NEAR(minimise(spec, 1), 0.6, 1e-12);
}

TEST(Optimizer, EveryKindMakesProgress) {
  for (Kind kind :
       {Kind::Sgd, Kind::Adam, Kind::AdamW, Kind::RmsProp, Kind::Adagrad, Kind::Adadelta}) {
    spec::OptimizerSpec spec;
    spec.kind = kind;
    spec.lr = kind == Kind::Adadelta ? 1.0 : 0.05;
    spec.eps = kind == Kind::Adadelta ? 1e-6 : 1e-8;
    const double x = minimise(spec, 200);
    EXPECT_LT(std::abs(x - 3), 2.9) << "kind " << static_cast<int>(kind);
  }
}

TEST(Optimizer, AdadeltaFirstStepMatchesPytorchRule) {
  spec::OptimizerSpec spec;
  spec.kind = Kind::Adadelta;
  spec.lr = 1.0;
  spec.rho = 0.9;
  spec.eps = 1e-6;
  // g = -6; v = 0.1 * 36 = 3.6; delta = sqrt(1e-6) / sqrt(3.6 + 1e-6) * g
  const double expected = -(std::sqrt(1e-6) / std::sqrt(3.6 + 1e-6) * -6.0);
  EXPECT_NEAR(minimise(spec, 1), expected, 1e-12);
}

TEST(Optimizer, SetLrChangesTheNextStep) {
  torch::Tensor x = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
  spec::OptimizerSpec spec;
  spec.kind = Kind::Sgd;
  spec.lr = 0.1;
  Optimizer opt(spec, {x});
  opt.set_lr(0.01);
  (x - 3).pow(2).sum().backward();
  opt.step();
  EXPECT_NEAR(x.item<double>(), 0.06, 1e-12);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.01);
}

TEST(Optimizer, SaveLoadRoundTripContinuesIdentically) {
  for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::Sgd}) {
    spec::OptimizerSpec spec;
    spec.kind = kind;
    spec.lr = 0.05;
    spec.momentum = kind == Kind::Sgd ? 0.9 : 0.0;
    torch::Tensor a = torch::zeros({2}, torch::kFloat64).requires_grad_(true);
    Optimizer oa(spec, {a});
    const auto step = [](Optimizer& o, torch::Tensor& x) {
      o.zero_grad();
      (x - 3).pow(2).sum().backward();
      o.step();
    };
    for (int i = 0; i < 3; ++i) step(oa, a);
    torch::serialize::OutputArchive out;
    oa.save(out);
    std::ostringstream stream;
    out.save_to(stream);

    torch::Tensor b = a.detach().clone().requires_grad_(true);
    Optimizer ob(spec, {b});
    torch::serialize::InputArchive in;
    std::istringstream istream(stream.str());
    in.load_from(istream);
    ob.load(in);
    step(oa, a);
    step(ob, b);
    EXPECT_TRUE(torch::equal(a, b)) << "kind " << static_cast<int>(kind);
  }
}

}  // namespace
}  // namespace lossdoctor::train
