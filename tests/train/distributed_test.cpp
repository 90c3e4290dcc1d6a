// The process group (train/distributed.hpp) with two ranks in one process, on loopback: the
// averaged gradient of two half batches is the gradient of the whole batch; rank 0's parameters
// reach every rank; the replica check sees a difference; a lost peer is an error, not a hang.
#include "lossdoctor/train/distributed.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <exception>
#include <functional>
#include <thread>

#include "train/two_ranks.hpp"

namespace lossdoctor::train::test {
namespace {

torch::nn::Sequential small_net() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 3, 3)),
                               torch::nn::ReLU(), torch::nn::Flatten(),
                               torch::nn::Linear(3 * 4 * 4, 5));
}

#define SKIP_WITHOUT_GLOO()                            \
  if (!distributed_available())                        \
  GTEST_SKIP() << "built without c10d's Gloo backend " \
                  "(libgloo-dev): nothing to test"

TEST(Distributed, AveragedGradientEqualsTheWholeBatchGradient) {
  SKIP_WITHOUT_GLOO();
  torch::manual_seed(11);
  const torch::Tensor x = torch::randn({8, 1, 6, 6});
  const torch::Tensor y = torch::randint(0, 5, {8}, torch::kLong);

  auto whole = small_net();
  torch::nn::functional::cross_entropy(whole->forward(x), y).backward();
  std::vector<torch::Tensor> expected;
  for (const auto& p : whole->parameters()) expected.push_back(p.grad().clone());

  std::vector<torch::Tensor> got[2];
  double summed_loss = 0;
  // Built here: torch's generator is shared by the ranks' threads.
  torch::nn::Sequential nets[2] = {small_net(), small_net()};
  with_two_ranks([&](ProcessGroup& g) {
    auto& net = nets[g.rank()];
    const auto half = torch::indexing::Slice(4 * g.rank(), 4 * g.rank() + 4);
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(net->forward(x.index({half})), y.index({half}));
    loss.backward();
    const auto sums = average_gradients(g, net->parameters(), {loss.item<double>(), 1.0});
    EXPECT_DOUBLE_EQ(sums[1], 2.0);
    if (g.rank() == 0) summed_loss = sums[0];
    for (const auto& p : net->parameters()) got[g.rank()].push_back(p.grad().clone());
  });
  const double whole_loss =
      torch::nn::functional::cross_entropy(whole->forward(x), y).item<double>();
  EXPECT_NEAR(summed_loss / 2, whole_loss, 1e-5);
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(got[r].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::allclose(got[r][i], expected[i], 1e-5, 1e-6))
          << "rank " << r << " parameter " << i << ": max difference "
          << (got[r][i] - expected[i]).abs().max().item<double>();
    }
  }
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(torch::equal(got[0][i], got[1][i]));
}

TEST(Distributed, BroadcastMakesReplicasIdenticalAndTheCheckSeesADifference) {
  SKIP_WITHOUT_GLOO();
  bool before[2], after[2];
  torch::nn::Linear nets[2] = {torch::nn::Linear(4, 3), torch::nn::Linear(4, 3)};  // different
  with_two_ranks([&](ProcessGroup& g) {
    auto& net = nets[g.rank()];
    before[g.rank()] = replicas_identical(g, net->parameters());
    broadcast_from_rank0(g, net->parameters());
    after[g.rank()] = replicas_identical(g, net->parameters());
  });
  EXPECT_FALSE(before[0]);
  EXPECT_FALSE(before[1]);
  EXPECT_TRUE(after[0]);
  EXPECT_TRUE(after[1]);
}

TEST(Distributed, ALostPeerIsAnErrorNamingTheRank) {
  SKIP_WITHOUT_GLOO();
  // Rank 1 leaves the group (its connections close) while rank 0 still wants an allreduce.
  std::string message;
  with_two_ranks(
      [&](ProcessGroup& g) {
        g.barrier();
        if (g.rank() == 1) return;  // the group is destroyed here: a dead peer
        torch::Tensor t = torch::ones({16});
        try {
          g.allreduce_sum(t);
          g.allreduce_sum(t);
        } catch (const DistributedError& e) {
          message = e.what();
        }
      },
      std::chrono::seconds(20));
  EXPECT_NE(message.find("rank 0"), std::string::npos) << message;
  EXPECT_NE(message.find("allreduce"), std::string::npos) << message;
}

TEST(Distributed, ACpuRunUsesGlooOnTheCpu) {
  SKIP_WITHOUT_GLOO();
  std::string backend[2];
  bool cpu[2] = {false, false};
  with_two_ranks([&](ProcessGroup& g) {
    backend[g.rank()] = g.backend();
    cpu[g.rank()] = g.device().is_cpu();
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(backend[r], "gloo");
    EXPECT_TRUE(cpu[r]);
  }
}

// The CUDA path (docs/distributed.md): needs a binary built with NCCL and two CUDA devices (one
// per rank; NCCL refuses two ranks on one device). Skipped, with the reason, anywhere else.
TEST(Distributed, ACudaRunUsesNcclOnItsOwnDeviceAndTakesCpuTensorsToo) {
  SKIP_WITHOUT_GLOO();
  if (!nccl_available())
    GTEST_SKIP() << "built without c10d's NCCL backend (a libtorch with CUDA and NCCL, and "
                    "nccl.h, are needed; CMake's configure output says which was missing)";
  if (torch::cuda::device_count() < 2)
    GTEST_SKIP() << "needs 2 CUDA devices, found " << torch::cuda::device_count();
  std::string backend[2];
  int64_t index[2] = {-1, -1};
  double gpu_sum[2] = {0, 0}, cpu_sum[2] = {0, 0}, root[2] = {0, 0};
  with_two_ranks(
      [&](ProcessGroup& g) {
        const int r = g.rank();
        backend[r] = g.backend();
        index[r] = g.device().index();
        torch::Tensor on_gpu = torch::full({4}, r + 1.0, torch::TensorOptions().device(g.device()));
        g.allreduce_sum(on_gpu);
        gpu_sum[r] = on_gpu[0].item<double>();
        torch::Tensor on_cpu = torch::full({3}, r + 1.0, torch::kFloat64);  // copied there and back
        g.allreduce_sum(on_cpu);
        cpu_sum[r] = on_cpu[2].item<double>();
        torch::Tensor value = torch::full({1}, r == 0 ? 7.0 : 0.0, torch::kFloat64);
        broadcast_from_rank0(g, {value});
        root[r] = value.item<double>();
      },
      std::chrono::seconds(60), "cuda");
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(backend[r], "nccl");
    EXPECT_EQ(index[r], r);
    EXPECT_DOUBLE_EQ(gpu_sum[r], 3.0);
    EXPECT_DOUBLE_EQ(cpu_sum[r], 3.0);
    EXPECT_DOUBLE_EQ(root[r], 7.0);
  }
}

TEST(Distributed, ParseMaster) {
  EXPECT_EQ(parse_master("127.0.0.1:29500", "--master"),
            (std::pair<std::string, int>("127.0.0.1", 29500)));
  EXPECT_THROW(parse_master("127.0.0.1", "--master"), std::exception);
  EXPECT_THROW(parse_master("host:0", "--master"), std::exception);
  EXPECT_THROW(parse_master("host:12ab", "--master"), std::exception);
  EXPECT_GT(pick_free_port(), 0);
}

}  // namespace
}  // namespace lossdoctor::train::test
