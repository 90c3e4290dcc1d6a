#include "lossdoctor/model/plan.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/memory.hpp"

namespace lossdoctor::model {
namespace {

using Kind = spec::LayerSpec::Kind;
using Shape = std::vector<int64_t>;

[[noreturn]] void fail(const spec::LayerSpec& layer, const std::string& message) {
  throw SpecError(layer.where.str(), layer.key_path, message);
}

void require_image(const spec::LayerSpec& layer, const Shape& in) {
  if (in.size() != 3) {
    fail(layer, fmt::format("{} needs an image input [C, H, W], got {}",
                            spec::layer_kind_name(layer.kind), shape_str(in)));
  }
}

/// Output size of a sliding window; fails with a message naming the layer when it does not fit.
int64_t window_out(const spec::LayerSpec& layer, int64_t in, int64_t window, int64_t stride,
                   int64_t pad, const char* what) {
  if (in + 2 * pad < window) {
    fail(layer,
         fmt::format("{} {} is larger than its input {} (padding {})", what, window, in, pad));
  }
  return (in + 2 * pad - window) / stride + 1;
}

/// a × b, saturating: absurd widths must reach the parameter limit, not wrap around.
int64_t mul(int64_t a, int64_t b) {
  constexpr int64_t kSaturated = int64_t{1} << 60;
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kSaturated) return kSaturated;
  return r;
}

int64_t elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n = mul(n, d);
  return n;
}

/// Layers after repeat expansion, saturating far above any limit (10 000 × 10 000 nested
/// repeats must be refused, not walked).
int64_t expanded_layers(const std::vector<spec::LayerSpec>& layers) {
  constexpr int64_t kCap = int64_t{1} << 50;
  int64_t n = 0;
  for (const auto& ls : layers) {
    int64_t here = 1;
    if (ls.kind == Kind::Repeat) {
      const int64_t inner = expanded_layers(ls.layers);
      here = inner > 0 && ls.times > kCap / inner ? kCap : ls.times * inner;
    } else if (ls.kind == Kind::Residual) {
      here = 1 + expanded_layers(ls.layers);
    }
    n = std::min(kCap, n + here);
  }
  return n;
}

void plan_into(const std::vector<spec::LayerSpec>& layers, Shape& shape, NetworkPlan& plan) {
  for (const auto& ls : layers) {
    if (ls.kind == Kind::Repeat) {
      if (ls.layers.empty()) fail(ls, "repeat needs at least one layer");
      for (int64_t r = 0; r < ls.times; ++r) plan_into(ls.layers, shape, plan);
      continue;
    }
    if (ls.kind == Kind::Residual) {
      if (ls.layers.empty()) fail(ls, "residual needs at least one layer");
      Shape inner = shape;
      plan_into(ls.layers, inner, plan);
      if (inner != shape) {
        fail(ls, fmt::format("residual block changes the shape {} → {}; output = input + "
                             "layers(input) needs them equal",
                             shape_str(shape), shape_str(inner)));
      }
    }
    const LayerPlan lp = plan_layer(ls, shape);
    plan.parameters += lp.parameters;
    if (plan.parameters > kMaxParameters) {
      fail(ls, fmt::format("the model reaches {} parameters here; lossdoctor trains at most {} "
                           "(make the layers narrower)",
                           plan.parameters, kMaxParameters));
    }
    shape = lp.output_shape;
    plan.activations_per_sample =
        std::min(int64_t{1} << 60, plan.activations_per_sample + elements(shape));
    ++plan.layers;
  }
}

}  // namespace

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, "×"));
}

LayerPlan plan_layer(const spec::LayerSpec& ls, const std::vector<int64_t>& in) {
  LayerPlan p;
  p.output_shape = in;
  switch (ls.kind) {
    case Kind::Conv2d: {
      require_image(ls, in);
      if (ls.same_padding) {
        if (ls.kernel % 2 == 0 && ls.stride != 1) {
          fail(ls, "padding 'same' with an even kernel needs stride 1");
        }
        const int64_t pad = ls.kernel / 2;
        if (ls.kernel % 2 == 0) {  // torch's kSame: the output keeps the input's size
          window_out(ls, in[1], ls.kernel, 1, pad, "kernel");
          window_out(ls, in[2], ls.kernel, 1, pad, "kernel");
          p.output_shape = {ls.filters, in[1], in[2]};
        } else {
          p.output_shape = {ls.filters, window_out(ls, in[1], ls.kernel, ls.stride, pad, "kernel"),
                            window_out(ls, in[2], ls.kernel, ls.stride, pad, "kernel")};
        }
      } else {
        p.output_shape = {ls.filters,
                          window_out(ls, in[1], ls.kernel, ls.stride, ls.padding, "kernel"),
                          window_out(ls, in[2], ls.kernel, ls.stride, ls.padding, "kernel")};
      }
      p.parameters =
          mul(mul(ls.filters, in[0]), ls.kernel * ls.kernel) + (ls.bias ? ls.filters : 0);
      break;
    }
    case Kind::Dense:
      if (in.size() != 1) {
        fail(ls, fmt::format("dense needs a flat input, got {}; add `- flatten` before it",
                             shape_str(in)));
      }
      p.output_shape = {ls.units};
      p.parameters = mul(ls.units, in[0]) + (ls.bias ? ls.units : 0);
      break;
    case Kind::BatchNorm:
      if (in.size() != 3 && in.size() != 1) {
        fail(ls, fmt::format("batchnorm needs [C, H, W] or [features], got {}", shape_str(in)));
      }
      p.parameters = 2 * in[0];
      break;
    case Kind::MaxPool:
    case Kind::AvgPool: {
      require_image(ls, in);
      const int64_t stride = ls.pool_stride > 0 ? ls.pool_stride : ls.size;
      p.output_shape = {in[0], window_out(ls, in[1], ls.size, stride, 0, "pool size"),
                        window_out(ls, in[2], ls.size, stride, 0, "pool size")};
      break;
    }
    case Kind::GlobalAvgPool:
      require_image(ls, in);
      p.output_shape = {in[0]};
      break;
    case Kind::Flatten:
      p.output_shape = {elements(in)};
      break;
    case Kind::Softmax:
    case Kind::LogSoftmax:
      if (in.size() != 1) {
        fail(ls, fmt::format("{} needs a flat input of class scores, got {}",
                             spec::layer_kind_name(ls.kind), shape_str(in)));
      }
      break;
    case Kind::ReLU:
    case Kind::LeakyReLU:
    case Kind::Sigmoid:
    case Kind::Tanh:
    case Kind::SELU:
    case Kind::ELU:
    case Kind::GELU:
    case Kind::Dropout:
    case Kind::Residual:  // its contents are planned by plan_network
    case Kind::Repeat:    // expanded by plan_network
      break;
  }
  return p;
}

NetworkPlan plan_network(const std::vector<spec::LayerSpec>& layers,
                         const std::vector<int64_t>& input) {
  const int64_t count = expanded_layers(layers);
  if (count > kMaxLayers) {
    // Name the outermost repeat that makes it so many.
    const spec::LayerSpec* culprit = nullptr;
    for (const auto& ls : layers) {
      if (ls.kind == Kind::Repeat &&
          (culprit == nullptr || expanded_layers({ls}) > expanded_layers({*culprit}))) {
        culprit = &ls;
      }
    }
    const std::string message = fmt::format(
        "the model expands to {}{} layers; lossdoctor builds at most {} (lower repeat.times)",
        count >= (int64_t{1} << 50) ? "more than " : "", count, kMaxLayers);
    if (culprit != nullptr) fail(*culprit, message);
    throw SpecError("spec", "model.layers", message);
  }
  NetworkPlan plan;
  Shape shape = input;
  plan_into(layers, shape, plan);
  plan.output_shape = shape;
  return plan;
}

NetworkPlan check_model_fits(const spec::Spec& spec, const std::vector<int64_t>& input,
                             int64_t num_classes) {
  const NetworkPlan plan = plan_network(spec.layers, input);
  if (plan.output_shape.size() != 1 || plan.output_shape[0] != num_classes) {
    const auto& last = spec.layers.back();
    throw SpecError(
        last.where.str(), last.key_path,
        fmt::format("the model outputs {} values per sample but the data has {} classes; the "
                    "last dense layer needs units: {}",
                    plan.output_shape.size() == 1 ? std::to_string(plan.output_shape[0])
                                                  : "a non-flat tensor of",
                    num_classes, num_classes));
  }
  // float32 weights, gradients and up to two optimiser moments; activations kept for the
  // backward pass plus their gradients.
  const double bytes =
      16.0 * static_cast<double>(plan.parameters) +
      8.0 * static_cast<double>(spec.batch_size) * static_cast<double>(plan.activations_per_sample);
  if (!fits_in_memory(bytes)) {
    throw SpecError(
        spec.file, "model.layers",
        fmt::format("training this model needs about {} ({} parameters with "
                    "gradients and optimiser state, {} activation values per sample "
                    "× batch_size {}); this machine has {}",
                    format_bytes(bytes), plan.parameters, plan.activations_per_sample,
                    spec.batch_size, format_bytes(static_cast<double>(physical_memory_bytes()))));
  }
  return plan;
}

}  // namespace lossdoctor::model
