// sync_batch_norm (model/sync_batchnorm.hpp) in a world of one, where the allreduce leaves its
// tensor as it is: it is plain batch norm — outputs, the three gradients and the running
// statistics — and it calls the allreduce once forward and once backward. (Two ranks against
// one process: tests/train/sync_batchnorm_test.cpp.)
#include "lossdoctor/model/sync_batchnorm.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lossdoctor/model/network.hpp"

namespace lossdoctor::model {
namespace {

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5))
      << what << ": max difference " << (got - want).abs().max().item<double>();
}

TEST(SyncBatchNorm, InAWorldOfOneItIsPlainBatchNorm) {
  for (const bool images : {true, false}) {
    SCOPED_TRACE(images ? "[N, C, H, W]" : "[N, C]");
    torch::manual_seed(5);
    const torch::Tensor x0 = images ? torch::randn({6, 3, 4, 5}) * 2 + 3 : torch::randn({7, 4}) - 1;
    const int64_t c = x0.size(1);
    const torch::Tensor w0 = torch::rand({c}) + 0.5, b0 = torch::randn({c});
    const torch::Tensor g = torch::randn(x0.sizes());  // loss = Σ (y·g)² / N

    // Plain: libtorch's functional batch norm in training mode.
    torch::Tensor x1 = x0.clone().requires_grad_(), w1 = w0.clone().requires_grad_(),
                  b1 = b0.clone().requires_grad_();
    torch::Tensor rm1 = torch::full({c}, 0.3), rv1 = torch::full({c}, 2.0);
    const torch::Tensor y1 = torch::batch_norm(x1, w1, b1, rm1, rv1, /*training=*/true, 0.1, 1e-5,
                                               /*cudnn_enabled=*/false);
    ((y1 * g).square().sum() / x0.size(0)).backward();

    int calls = 0;
    auto identity = std::make_shared<const AllreduceSum>([&calls](at::Tensor&) { ++calls; });
    torch::Tensor x2 = x0.clone().requires_grad_(), w2 = w0.clone().requires_grad_(),
                  b2 = b0.clone().requires_grad_();
    torch::Tensor rm2 = torch::full({c}, 0.3), rv2 = torch::full({c}, 2.0);
    const torch::Tensor y2 = sync_batch_norm(x2, w2, b2, rm2, rv2, 0.1, 1e-5, identity);
    EXPECT_EQ(calls, 1);
    ((y2 * g).square().sum() / x0.size(0)).backward();
    EXPECT_EQ(calls, 2);

    expect_close(y2, y1, "output");
    expect_close(x2.grad(), x1.grad(), "input gradient");
    expect_close(w2.grad(), w1.grad(), "weight gradient");
    expect_close(b2.grad(), b1.grad(), "bias gradient");
    expect_close(rm2, rm1, "running mean");
    expect_close(rv2, rv1, "running variance");
  }
}

TEST(SyncBatchNorm, ANetworkUsesItInTrainingModeOnlyAndKeepsItsStateNames) {
  spec::LayerSpec conv;
  conv.kind = spec::LayerSpec::Kind::Conv2d;
  conv.filters = 3;
  conv.kernel = 3;
  conv.same_padding = true;
  spec::LayerSpec bn;
  bn.kind = spec::LayerSpec::Kind::BatchNorm;
  torch::manual_seed(2);
  Network plain = make_network({conv, bn}, {}, {1, 5, 5});
  torch::manual_seed(2);
  Network synced = make_network({conv, bn}, {}, {1, 5, 5});
  int calls = 0;
  synced->set_batchnorm_allreduce([&calls](at::Tensor&) { ++calls; });
  EXPECT_TRUE(synced->syncs_batchnorm());
  EXPECT_FALSE(plain->syncs_batchnorm());

  const torch::Tensor x = torch::randn({4, 1, 5, 5});
  expect_close(synced->forward(x), plain->forward(x), "training output");
  EXPECT_EQ(calls, 1);
  const auto pb = plain->named_buffers(), sb = synced->named_buffers();
  ASSERT_EQ(pb.size(), sb.size());
  for (const auto& item : pb) {
    ASSERT_TRUE(sb.contains(item.key())) << item.key();
    expect_close(sb[item.key()].to(torch::kDouble), item.value().to(torch::kDouble),
                 item.key().c_str());
  }
  EXPECT_EQ(plain->named_parameters().keys(), synced->named_parameters().keys());

  plain->eval();
  synced->eval();
  expect_close(synced->forward(x), plain->forward(x), "evaluation output");
  EXPECT_EQ(calls, 1);  // evaluation: the running statistics, no allreduce

  synced->set_batchnorm_allreduce(nullptr);
  EXPECT_FALSE(synced->syncs_batchnorm());
}

}  // namespace
}  // namespace lossdoctor::model
