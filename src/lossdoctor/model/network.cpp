#include "lossdoctor/model/network.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/modules.h>

#include "lossdoctor/model/init.hpp"
#include "lossdoctor/model/plan.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::model {
namespace {

using Kind = spec::LayerSpec::Kind;
using Shape = std::vector<int64_t>;

/// Mean over the spatial dimensions: [N, C, H, W] → [N, C].
class GlobalAvgPoolImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return x.mean({2, 3}); }
};
TORCH_MODULE(GlobalAvgPool);

class Builder {
 public:
  Builder(torch::nn::Module& owner, const spec::InitSpec& model_init)
      : owner_(owner), model_init_(model_init) {}

  Shape build(const std::vector<spec::LayerSpec>& specs, Shape shape, const std::string& prefix,
              LayerStack& out) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& ls = specs[i];
      const std::string name = fmt::format("{}layers[{}].{}", prefix, i, layer_kind_name(ls.kind));
      if (ls.kind == Kind::Repeat) {
        for (int64_t r = 0; r < ls.times; ++r) {
          shape = build(ls.layers, shape, fmt::format("{}[{}].", name, r), out);
        }
        continue;
      }
      shape = add(ls, name, shape, out);
    }
    return shape;
  }

 private:
  Shape add(const spec::LayerSpec& ls, const std::string& name, const Shape& in, LayerStack& out) {
    Layer layer;
    layer.name = name;
    layer.key_path = ls.key_path;
    layer.where = ls.where;
    layer.kind = ls.kind;
    layer.input_shape = in;
    // Shapes and every "cannot apply" check come from the plan; here only modules are made.
    const Shape shape = ls.kind == Kind::Residual ? in : plan_layer(ls, in).output_shape;
    const std::string reg_name = fmt::format("l{}_{}", counter_++, layer_kind_name(ls.kind));

    switch (ls.kind) {
      case Kind::Conv2d: {
        auto options =
            torch::nn::Conv2dOptions(in[0], ls.filters, ls.kernel).stride(ls.stride).bias(ls.bias);
        if (ls.same_padding && ls.kernel % 2 == 0) {
          options.padding(torch::kSame);
        } else {
          options.padding(ls.same_padding ? ls.kernel / 2 : ls.padding);
        }
        torch::nn::Conv2d conv(options);
        layer.weight = conv->weight;
        layer.bias = conv->bias;
        layer.module = torch::nn::AnyModule(conv);
        break;
      }
      case Kind::Dense: {
        torch::nn::Linear linear(torch::nn::LinearOptions(in[0], ls.units).bias(ls.bias));
        layer.weight = linear->weight;
        layer.bias = linear->bias;
        layer.module = torch::nn::AnyModule(linear);
        break;
      }
      case Kind::BatchNorm:
        if (in.size() == 3) {
          layer.module = torch::nn::AnyModule(torch::nn::BatchNorm2d(
              torch::nn::BatchNorm2dOptions(in[0]).momentum(ls.momentum).eps(ls.eps)));
        } else {
          layer.module = torch::nn::AnyModule(torch::nn::BatchNorm1d(
              torch::nn::BatchNorm1dOptions(in[0]).momentum(ls.momentum).eps(ls.eps)));
        }
        break;
      case Kind::ReLU:
        layer.module = torch::nn::AnyModule(torch::nn::ReLU());
        break;
      case Kind::LeakyReLU:
        layer.module = torch::nn::AnyModule(
            torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(ls.negative_slope)));
        break;
      case Kind::Sigmoid:
        layer.module = torch::nn::AnyModule(torch::nn::Sigmoid());
        break;
      case Kind::Tanh:
        layer.module = torch::nn::AnyModule(torch::nn::Tanh());
        break;
      case Kind::SELU:
        layer.module = torch::nn::AnyModule(torch::nn::SELU());
        break;
      case Kind::ELU:
        layer.module =
            torch::nn::AnyModule(torch::nn::ELU(torch::nn::ELUOptions().alpha(ls.alpha)));
        break;
      case Kind::GELU:
        layer.module = torch::nn::AnyModule(torch::nn::GELU());
        break;
      case Kind::MaxPool:
      case Kind::AvgPool: {
        const int64_t stride = ls.pool_stride > 0 ? ls.pool_stride : ls.size;
        if (ls.kind == Kind::MaxPool) {
          layer.module = torch::nn::AnyModule(
              torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(ls.size).stride(stride)));
        } else {
          layer.module = torch::nn::AnyModule(
              torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(ls.size).stride(stride)));
        }
        break;
      }
      case Kind::GlobalAvgPool:
        layer.module = torch::nn::AnyModule(GlobalAvgPool());
        break;
      case Kind::Dropout:
        layer.module = torch::nn::AnyModule(torch::nn::Dropout(torch::nn::DropoutOptions(ls.rate)));
        break;
      case Kind::Flatten:
        layer.module = torch::nn::AnyModule(torch::nn::Flatten());
        break;
      case Kind::Softmax:
        layer.module = torch::nn::AnyModule(torch::nn::Softmax(torch::nn::SoftmaxOptions(1)));
        break;
      case Kind::LogSoftmax:
        layer.module = torch::nn::AnyModule(torch::nn::LogSoftmax(torch::nn::LogSoftmaxOptions(1)));
        break;
      case Kind::Residual: {
        auto block = std::make_shared<ResidualImpl>();
        build(ls.layers, in, name + ".", block->stack);  // plan_network checked its shape
        layer.residual = block;
        owner_.register_module(reg_name, block);
        layer.output_shape = shape;
        out.layers.push_back(std::move(layer));
        return shape;
      }
      case Kind::Repeat:
        break;  // expanded by build()
    }
    if (layer.weight.defined()) init_layer(layer.weight, layer.bias, ls.init, model_init_);
    for (const auto& p : layer.module.ptr()->parameters()) layer.parameter_count += p.numel();
    owner_.register_module(reg_name, layer.module.ptr());
    layer.output_shape = shape;
    out.layers.push_back(std::move(layer));
    return shape;
  }

  torch::nn::Module& owner_;
  const spec::InitSpec& model_init_;
  int counter_ = 0;
};

/// One training-mode step of a libtorch batch-norm module over the global batch: the module's
/// own bookkeeping (num_batches_tracked, the average factor), then sync_batch_norm.
template <class BatchNorm>
torch::Tensor sync_forward(BatchNorm& bn, const torch::Tensor& x,
                           const std::shared_ptr<const AllreduceSum>& allreduce) {
  double factor = bn.options.momentum() ? *bn.options.momentum() : 0.0;
  if (bn.options.track_running_stats() && bn.num_batches_tracked.defined()) {
    bn.num_batches_tracked += 1;
    if (!bn.options.momentum()) factor = 1.0 / bn.num_batches_tracked.template item<double>();
  }
  return sync_batch_norm(x, bn.weight, bn.bias,
                         bn.options.track_running_stats() ? bn.running_mean : torch::Tensor(),
                         bn.options.track_running_stats() ? bn.running_var : torch::Tensor(),
                         factor, bn.options.eps(), allreduce);
}

/// The layer's output, through sync_batch_norm when it is a batchnorm layer in training mode and
/// `allreduce` is set.
torch::Tensor layer_forward(Layer& layer, const torch::Tensor& x,
                            const std::shared_ptr<const AllreduceSum>& allreduce) {
  if (allreduce && layer.kind == Kind::BatchNorm && layer.module.ptr()->is_training()) {
    torch::nn::Module* m = layer.module.ptr().get();
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m))
      return sync_forward(*bn, x, allreduce);
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m))
      return sync_forward(*bn, x, allreduce);
  }
  return layer.module.forward(x);
}

void collect(const LayerStack& stack, std::vector<const Layer*>& out) {
  for (const auto& layer : stack.layers) {
    out.push_back(&layer);
    if (layer.residual) collect(layer.residual->stack, out);
  }
}

}  // namespace

torch::Tensor LayerStack::forward(torch::Tensor x, const LayerObserver* observer,
                                  const std::shared_ptr<const AllreduceSum>& bn_allreduce) {
  for (auto& layer : layers) {
    if (layer.residual) {
      x = x + layer.residual->stack.forward(x, observer, bn_allreduce);
    } else {
      x = layer_forward(layer, x, bn_allreduce);
    }
    if (observer && *observer) (*observer)(layer, x);
  }
  return x;
}

NetworkImpl::NetworkImpl(const std::vector<spec::LayerSpec>& layers,
                         const spec::InitSpec& model_init, std::vector<int64_t> input_shape)
    : input_shape_(std::move(input_shape)) {
  plan_network(layers, input_shape_);  // every shape and size check, before any allocation
  Builder builder(*this, model_init);
  output_shape_ = builder.build(layers, input_shape_, "", stack_);
}

Network make_network(const std::vector<spec::LayerSpec>& layers, const spec::InitSpec& model_init,
                     std::vector<int64_t> input_shape) {
  return Network(layers, model_init, std::move(input_shape));
}

torch::Tensor NetworkImpl::forward(torch::Tensor x) {
  return stack_.forward(std::move(x), observer_ ? &observer_ : nullptr, bn_allreduce_);
}

void NetworkImpl::set_batchnorm_allreduce(AllreduceSum allreduce) {
  bn_allreduce_ = allreduce ? std::make_shared<const AllreduceSum>(std::move(allreduce)) : nullptr;
}

std::vector<const Layer*> NetworkImpl::all_layers() const {
  std::vector<const Layer*> out;
  collect(stack_, out);
  return out;
}

int64_t NetworkImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::string NetworkImpl::summary() const {
  std::string out;
  for (const Layer* layer : all_layers()) {
    const int64_t params = layer->parameter_count;
    out += fmt::format("  {:<36} {:>16} {:>10}\n", layer->name, shape_str(layer->output_shape),
                       params);
  }
  out += fmt::format("  {:<36} {:>16} {:>10}\n", "total", "", parameter_count());
  return out;
}

}  // namespace lossdoctor::model
