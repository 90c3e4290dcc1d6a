// model.sync_batchnorm with two ranks in one process, on loopback (like distributed_test.cpp):
// two ranks that each hold half of a batch, with synchronised batch norm and averaged gradients,
// compute what one process computes on the whole batch with plain batch norm, its loss the mean
// of the ranks' losses — outputs, input gradients, every parameter gradient, the running
// statistics and, in evaluation mode, the outputs again.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <exception>
#include <functional>
#include <thread>

#include "lossdoctor/model/network.hpp"
#include "lossdoctor/train/distributed.hpp"
#include "train/two_ranks.hpp"

namespace lossdoctor::train::test {
namespace {

using Kind = spec::LayerSpec::Kind;

spec::LayerSpec layer(Kind kind) {
  spec::LayerSpec l;
  l.kind = kind;
  return l;
}

spec::LayerSpec conv(int64_t filters) {
  auto l = layer(Kind::Conv2d);
  l.filters = filters;
  l.kernel = 3;
  l.same_padding = true;
  return l;
}

spec::LayerSpec dense(int64_t units) {
  auto l = layer(Kind::Dense);
  l.units = units;
  return l;
}

/// 2-d batch norm (also inside a residual block) and 1-d batch norm after a dense layer.
model::Network make_net() {
  auto bn = layer(Kind::BatchNorm);
  bn.momentum = 0.3;
  auto residual = layer(Kind::Residual);
  residual.layers = {conv(4), layer(Kind::BatchNorm)};
  torch::manual_seed(21);
  return model::make_network({conv(4), bn, layer(Kind::ReLU), residual, layer(Kind::Flatten),
                              dense(6), layer(Kind::BatchNorm), layer(Kind::Tanh), dense(3)},
                             {}, {2, 5, 5});
}

/// The per-sample loss: anything non-linear in the output.
torch::Tensor sample_loss(const torch::Tensor& out, const torch::Tensor& target) {
  return (out - target).square().sum(1) + out.select(1, 0).exp();
}

#define SKIP_WITHOUT_GLOO()                            \
  if (!distributed_available())                        \
  GTEST_SKIP() << "built without c10d's Gloo backend " \
                  "(libgloo-dev): nothing to test"

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_TRUE(torch::allclose(got.to(torch::kDouble), want.to(torch::kDouble), 1e-5, 1e-5))
      << what << ": max difference "
      << (got.to(torch::kDouble) - want.to(torch::kDouble)).abs().max().item<double>();
}

TEST(SyncBatchNormDistributed, TwoHalvesEqualTheWholeBatchInOneProcess) {
  SKIP_WITHOUT_GLOO();
  torch::manual_seed(7);
  const int64_t n = 10;  // 5 images a rank
  const torch::Tensor x = torch::randn({n, 2, 5, 5}) * 1.5 + 0.7;
  const torch::Tensor target = torch::randn({n, 3});

  // One process, plain batch norm, the whole batch; loss = mean over the batch = the mean of
  // the two ranks' losses (equal halves).
  model::Network whole = make_net();
  whole->train();
  const torch::Tensor xw = x.clone().requires_grad_();
  const torch::Tensor out_whole = whole->forward(xw);
  sample_loss(out_whole, target).mean().backward();

  // Built here: torch's generator is shared by the ranks' threads.
  model::Network nets[2] = {make_net(), make_net()};
  torch::Tensor outs[2], input_grads[2];
  std::vector<torch::Tensor> grads[2];
  torch::Tensor eval_outs[2];
  with_two_ranks([&](ProcessGroup& g) {
    const int r = g.rank();
    auto& net = nets[r];
    net->train();
    net->set_batchnorm_allreduce([&g](at::Tensor& t) { g.allreduce_sum(t); });
    const auto half = torch::indexing::Slice(r * n / 2, (r + 1) * n / 2);
    const torch::Tensor xr = x.index({half}).clone().requires_grad_();
    outs[r] = net->forward(xr);
    sample_loss(outs[r], target.index({half})).mean().backward();
    average_gradients(g, net->parameters(), {});
    input_grads[r] = xr.grad();
    for (const auto& p : net->parameters()) grads[r].push_back(p.grad().clone());
    // Evaluation mode: each rank alone (no collective), from the running statistics.
    torch::NoGradGuard no_grad;
    net->eval();
    eval_outs[r] = net->forward(x);
  });

  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    const auto half = torch::indexing::Slice(r * n / 2, (r + 1) * n / 2);
    expect_close(outs[r], out_whole.index({half}), "output");
    // A rank's input gradient is that of the *sum* of the ranks' losses (as with PyTorch's
    // SyncBatchNorm): twice the gradient of their mean.
    expect_close(input_grads[r], 2 * xw.grad().index({half}), "input gradient");
    const auto names = whole->named_parameters().keys();
    const auto want = whole->parameters();
    ASSERT_EQ(grads[r].size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      expect_close(grads[r][i], want[i].grad(), "gradient of " + names[i]);
    for (const auto& item : whole->named_buffers())
      expect_close(nets[r]->named_buffers()[item.key()], item.value(), item.key());
    whole->eval();
    torch::NoGradGuard no_grad;
    expect_close(eval_outs[r], whole->forward(x), "evaluation output");
    whole->train();
  }
}

}  // namespace
}  // namespace lossdoctor::train::test
