#include "lossdoctor/spec/spec.hpp"

#include <fmt/format.h>

namespace lossdoctor::spec {

std::string Location::str() const {
  if (!override.empty()) return "--set " + override;
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string lr_scaling_name(OptimizerSpec::LrScaling scaling) {
  switch (scaling) {
    case OptimizerSpec::LrScaling::Linear:
      return "linear";
    case OptimizerSpec::LrScaling::Sqrt:
      return "sqrt";
    case OptimizerSpec::LrScaling::None:
      break;
  }
  return "none";
}

std::string layer_kind_name(LayerSpec::Kind kind) {
  using Kind = LayerSpec::Kind;
  switch (kind) {
    case Kind::Conv2d:
      return "conv2d";
    case Kind::BatchNorm:
      return "batchnorm";
    case Kind::ReLU:
      return "relu";
    case Kind::LeakyReLU:
      return "leaky_relu";
    case Kind::Sigmoid:
      return "sigmoid";
    case Kind::Tanh:
      return "tanh";
    case Kind::SELU:
      return "selu";
    case Kind::ELU:
      return "elu";
    case Kind::GELU:
      return "gelu";
    case Kind::MaxPool:
      return "maxpool";
    case Kind::AvgPool:
      return "avgpool";
    case Kind::GlobalAvgPool:
      return "global_avgpool";
    case Kind::Dropout:
      return "dropout";
    case Kind::Flatten:
      return "flatten";
    case Kind::Dense:
      return "dense";
    case Kind::Softmax:
      return "softmax";
    case Kind::LogSoftmax:
      return "log_softmax";
    case Kind::Repeat:
      return "repeat";
    case Kind::Residual:
      return "residual";
  }
  return "?";
}

}  // namespace lossdoctor::spec
