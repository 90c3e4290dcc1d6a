#include "lossdoctor/train/loss.hpp"

#include <torch/nn/functional/loss.h>

namespace lossdoctor::train {
namespace {

constexpr double kProbFloor = 1e-7;

torch::Tensor one_hot(const torch::Tensor& labels, int64_t classes, const torch::Tensor& like) {
  return torch::one_hot(labels, classes).to(like.dtype());
}

}  // namespace

torch::Tensor per_sample_loss(const spec::LossSpec& loss, const torch::Tensor& output,
                              const torch::Tensor& labels) {
  const int64_t classes = output.size(1);
  using Kind = spec::LossSpec::Kind;
  switch (loss.kind) {
    case Kind::CrossEntropy: {
      const torch::Tensor log_probs = loss.from_logits ? torch::log_softmax(output, 1)
                                                       : torch::log(output.clamp(kProbFloor, 1.0));
      const double eps = loss.label_smoothing;
      if (loss.one_hot_targets || eps > 0) {
        const torch::Tensor target = one_hot(labels, classes, output) * (1.0 - eps) + eps / classes;
        return -(target * log_probs).sum(1);
      }
      return -log_probs.gather(1, labels.unsqueeze(1)).squeeze(1);
    }
    case Kind::Nll:
      return -output.gather(1, labels.unsqueeze(1)).squeeze(1);
    case Kind::Mse:
      return (output - one_hot(labels, classes, output)).pow(2).mean(1);
    case Kind::Bce: {
      const torch::Tensor target = one_hot(labels, classes, output);
      namespace F = torch::nn::functional;
      if (loss.from_logits) {
        return F::binary_cross_entropy_with_logits(
                   output, target,
                   F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
            .mean(1);
      }
      return F::binary_cross_entropy(output.clamp(kProbFloor, 1.0 - kProbFloor), target,
                                     F::BinaryCrossEntropyFuncOptions().reduction(torch::kNone))
          .mean(1);
    }
  }
  return {};
}

torch::Tensor mean_loss(const spec::LossSpec& loss, const torch::Tensor& output,
                        const torch::Tensor& labels) {
  return per_sample_loss(loss, output, labels).mean();
}

std::string loss_kind_name(spec::LossSpec::Kind kind) {
  using Kind = spec::LossSpec::Kind;
  switch (kind) {
    case Kind::CrossEntropy:
      return "cross_entropy";
    case Kind::Nll:
      return "nll";
    case Kind::Mse:
      return "mse";
    case Kind::Bce:
      return "bce";
  }
  return "?";
}

std::string loss_name(const spec::LossSpec& loss) {
  using Kind = spec::LossSpec::Kind;
  switch (loss.kind) {
    case Kind::CrossEntropy:
      return loss.from_logits ? "cross_entropy(from_logits)" : "cross_entropy(probabilities)";
    case Kind::Nll:
      return "nll";
    case Kind::Mse:
      return "mse";
    case Kind::Bce:
      return loss.from_logits ? "bce(from_logits)" : "bce(probabilities)";
  }
  return "?";
}

}  // namespace lossdoctor::train
