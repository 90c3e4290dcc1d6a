#include "lossdoctor/model/sync_batchnorm.hpp"

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>
#include <vector>

namespace lossdoctor::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The reduction function, kept alive in the autograd context until backward has run (the
/// context's saved data holds only IValues; a capsule carries an arbitrary object).
struct AllreduceHolder : torch::CustomClassHolder {
  explicit AllreduceHolder(std::shared_ptr<const AllreduceSum> f) : fn(std::move(f)) {}
  std::shared_ptr<const AllreduceSum> fn;
};

/// What the forward needs besides the differentiable inputs (not a tensor argument of apply, so
/// autograd does not track the running statistics).
struct Settings {
  at::Tensor running_mean, running_var;
  double momentum = 0.1, eps = 1e-5;
  std::shared_ptr<const AllreduceSum> allreduce;
};

/// Every dimension but the channels (1).
std::vector<int64_t> reduce_dims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

/// [1, C, 1, …]: a per-channel vector broadcast against x.
std::vector<int64_t> channel_shape(const at::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

void sum_over_ranks(AutogradContext* ctx, at::Tensor& t) {
  const auto capsule = ctx->saved_data.at("allreduce").toCapsule();
  (*static_cast<AllreduceHolder*>(capsule.get())->fn)(t);
}

class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, const Settings& s) {
    TORCH_CHECK(x.dim() >= 2, "sync batch norm: expected an input of [N, C, ...], got ", x.sizes());
    TORCH_CHECK(weight.defined() && bias.defined(), "sync batch norm: needs a weight and a bias");
    const int64_t channels = x.size(1);
    const auto dims = reduce_dims(x);
    const auto shape = channel_shape(x);
    const int64_t n = channels > 0 ? x.numel() / channels : 0;

    // [Σx (C), Σx² (C), count], in float64. Σx² is this rank's sum of squared deviations from
    // its own mean plus n·mean²: the same sum, without float cancellation.
    at::Tensor stats = at::zeros({2 * channels + 1}, x.options().dtype(at::kDouble));
    if (n > 0) {
      const at::Tensor local_mean = x.mean(dims);
      const at::Tensor m2 = (x - local_mean.view(shape)).square().sum(dims).to(at::kDouble);
      const at::Tensor mean_d = local_mean.to(at::kDouble);
      stats.narrow(0, 0, channels).copy_(mean_d * static_cast<double>(n));
      stats.narrow(0, channels, channels).copy_(m2 + mean_d.square() * static_cast<double>(n));
      stats.narrow(0, 2 * channels, 1).fill_(static_cast<double>(n));
    }
    s.allreduce->operator()(stats);
    const double count = stats[2 * channels].item<double>();
    TORCH_CHECK(count > 1,
                "Expected more than 1 value per channel when training (over every rank's batch), "
                "got input size ",
                x.sizes());

    const at::Tensor mean_d = stats.narrow(0, 0, channels) / count;
    const at::Tensor var_d = (stats.narrow(0, channels, channels) / count - mean_d.square())
                                 .clamp_min(0);  // biased, for normalising
    const at::Tensor invstd_d = (var_d + s.eps).rsqrt();
    const at::Tensor mean = mean_d.to(x.scalar_type());
    const at::Tensor invstd = invstd_d.to(x.scalar_type());
    const at::Tensor xhat = (x - mean.view(shape)) * invstd.view(shape);
    at::Tensor y = xhat * weight.view(shape) + bias.view(shape);

    if (s.running_mean.defined()) {
      s.running_mean.mul_(1 - s.momentum).add_(mean_d.to(s.running_mean.scalar_type()), s.momentum);
    }
    if (s.running_var.defined()) {
      const at::Tensor unbiased = var_d * (count / (count - 1));
      s.running_var.mul_(1 - s.momentum).add_(unbiased.to(s.running_var.scalar_type()), s.momentum);
    }

    ctx->save_for_backward({xhat, weight, invstd});
    ctx->saved_data["count"] = count;
    // Whether x needs a gradient is the same on every rank (the same graph), so either every
    // rank or none makes backward's allreduce.
    ctx->saved_data["input_grad"] = x.requires_grad();
    ctx->saved_data["allreduce"] =
        c10::IValue::make_capsule(c10::make_intrusive<AllreduceHolder>(s.allreduce));
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& xhat = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& invstd = saved[2];
    const at::Tensor dy = grad_outputs[0];
    const auto dims = reduce_dims(xhat);
    const auto shape = channel_shape(xhat);
    const int64_t channels = xhat.size(1);

    // Local sums: the gradients of this rank's weight and bias (averaged later like any
    // parameter's), and this rank's part of the global means below.
    const at::Tensor sum_dy = dy.sum(dims);
    const at::Tensor sum_dy_xhat = (dy * xhat).sum(dims);
    at::Tensor dx;
    if (ctx->saved_data.at("input_grad").toBool()) {
      at::Tensor sums = at::cat({sum_dy, sum_dy_xhat}).to(at::kDouble).contiguous();
      sum_over_ranks(ctx, sums);
      const double count = ctx->saved_data.at("count").toDouble();
      const at::Tensor mean_dy = (sums.narrow(0, 0, channels) / count).to(dy.scalar_type());
      const at::Tensor mean_dy_xhat =
          (sums.narrow(0, channels, channels) / count).to(dy.scalar_type());
      dx = (weight * invstd).view(shape) *
           (dy - mean_dy.view(shape) - xhat * mean_dy_xhat.view(shape));
    }
    return {dx, sum_dy_xhat, sum_dy, at::Tensor()};
  }
};

}  // namespace

at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           const at::Tensor& running_mean, const at::Tensor& running_var,
                           double momentum, double eps,
                           std::shared_ptr<const AllreduceSum> allreduce) {
  TORCH_CHECK(allreduce && *allreduce, "sync batch norm: no allreduce function");
  Settings s;
  s.running_mean = running_mean;
  s.running_var = running_var;
  s.momentum = momentum;
  s.eps = eps;
  s.allreduce = std::move(allreduce);
  return SyncBatchNormFunction::apply(x, weight, bias, s);
}

}  // namespace lossdoctor::model
