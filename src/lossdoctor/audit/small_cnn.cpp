#include "lossdoctor/audit/small_cnn.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace lossdoctor::audit {

torch::nn::Sequential small_cnn(int64_t channels, int64_t height, int64_t width,
                                int64_t num_classes) {
  namespace nn = torch::nn;
  const int64_t flat = 32 * (height / 4) * (width / 4);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 16, 3).padding(1)),
                        nn::BatchNorm2d(16), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Conv2d(nn::Conv2dOptions(16, 32, 3).padding(1)), nn::BatchNorm2d(32),
                        nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(), nn::Linear(flat, num_classes));
}

torch::nn::Sequential fit_small_cnn(const at::Tensor& x, const at::Tensor& y, int64_t num_classes,
                                    const SmallFit& fit, double* last_loss) {
  torch::manual_seed(fit.init_seed);
  auto net = small_cnn(x.size(1), x.size(2), x.size(3), num_classes);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(fit.lr));
  net->train();
  std::mt19937_64 shuffle_rng(fit.shuffle_seed);
  std::vector<int64_t> perm(static_cast<size_t>(x.size(0)));
  double loss_of_epoch = 0;
  for (int e = 0; e < fit.epochs; ++e) {
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), shuffle_rng);
    const at::Tensor p = torch::tensor(perm, torch::kLong);
    double sum = 0;
    int64_t batches = 0;
    for (int64_t b = 0; b < static_cast<int64_t>(perm.size()); b += fit.batch_size) {
      const int64_t len = std::min<int64_t>(fit.batch_size, static_cast<int64_t>(perm.size()) - b);
      const at::Tensor idx = p.narrow(0, b, len);
      opt.zero_grad();
      auto loss =
          torch::cross_entropy_loss(net->forward(x.index_select(0, idx)), y.index_select(0, idx));
      loss.backward();
      opt.step();
      sum += loss.item<double>();
      ++batches;
    }
    loss_of_epoch = batches ? sum / static_cast<double>(batches) : 0;
  }
  net->eval();
  if (last_loss != nullptr) *last_loss = loss_of_epoch;
  return net;
}

at::Tensor predict_probs(torch::nn::Sequential& net, const at::Tensor& x) {
  torch::NoGradGuard guard;
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < x.size(0); b += 1024) {
    parts.push_back(
        torch::softmax(net->forward(x.narrow(0, b, std::min<int64_t>(1024, x.size(0) - b))), 1));
  }
  if (parts.empty()) return torch::empty({0, 0}, torch::kFloat);
  return torch::cat(parts, 0);
}

}  // namespace lossdoctor::audit
