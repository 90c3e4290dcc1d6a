#include "lossdoctor/model/init.hpp"

#include <fmt/format.h>
#include <torch/nn/init.h>

#include <cmath>

namespace lossdoctor::model {
namespace {

struct Fans {
  double in = 1, out = 1;
};

Fans fans_of(const torch::Tensor& weight) {
  const int64_t receptive = weight.dim() > 2 ? weight[0][0].numel() : 1;
  return {static_cast<double>(weight.size(1) * receptive),
          static_cast<double>(weight.size(0) * receptive)};
}

}  // namespace

void apply_init(torch::Tensor& param, const torch::Tensor& weight, const spec::InitScheme& scheme) {
  using Kind = spec::InitScheme::Kind;
  torch::NoGradGuard no_grad;
  const Fans fans = fans_of(weight);
  switch (scheme.kind) {
    case Kind::Default:
      return;
    case Kind::HeNormal:
      param.normal_(0.0, std::sqrt(2.0 / fans.in));
      return;
    case Kind::HeUniform: {
      const double bound = std::sqrt(6.0 / fans.in);
      param.uniform_(-bound, bound);
      return;
    }
    case Kind::GlorotNormal:
      param.normal_(0.0, std::sqrt(2.0 / (fans.in + fans.out)));
      return;
    case Kind::GlorotUniform: {
      const double bound = std::sqrt(6.0 / (fans.in + fans.out));
      param.uniform_(-bound, bound);
      return;
    }
    case Kind::Normal:
      param.normal_(0.0, scheme.std);
      return;
    case Kind::Uniform:
      param.uniform_(-scheme.a, scheme.a);
      return;
    case Kind::Zeros:
      param.zero_();
      return;
    case Kind::Constant:
      param.fill_(scheme.value);
      return;
  }
}

void init_layer(torch::Tensor& weight, torch::Tensor& bias, const spec::InitSpec& layer_init,
                const spec::InitSpec& model_init) {
  const auto pick = [](const std::optional<spec::InitScheme>& own,
                       const std::optional<spec::InitScheme>& inherited) {
    return own ? *own : inherited ? *inherited : spec::InitScheme{};
  };
  apply_init(weight, weight, pick(layer_init.weight, model_init.weight));
  if (bias.defined()) apply_init(bias, weight, pick(layer_init.bias, model_init.bias));
}

std::string init_scheme_name(const spec::InitScheme& scheme) {
  using Kind = spec::InitScheme::Kind;
  switch (scheme.kind) {
    case Kind::Default:
      return "default";
    case Kind::HeNormal:
      return "he_normal";
    case Kind::HeUniform:
      return "he_uniform";
    case Kind::GlorotNormal:
      return "glorot_normal";
    case Kind::GlorotUniform:
      return "glorot_uniform";
    case Kind::Normal:
      return fmt::format("normal(std={:g})", scheme.std);
    case Kind::Uniform:
      return fmt::format("uniform(a={:g})", scheme.a);
    case Kind::Zeros:
      return "zeros";
    case Kind::Constant:
      return fmt::format("constant({:g})", scheme.value);
  }
  return "?";
}

}  // namespace lossdoctor::model
