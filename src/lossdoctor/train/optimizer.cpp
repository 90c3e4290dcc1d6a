#include "lossdoctor/train/optimizer.hpp"

#include <fmt/format.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::train {

using Kind = spec::OptimizerSpec::Kind;

Optimizer::Optimizer(const spec::OptimizerSpec& spec, std::vector<torch::Tensor> params)
    : spec_(spec), lr_(spec.lr), params_(std::move(params)) {
  namespace optim = torch::optim;
  switch (spec.kind) {
    case Kind::Sgd:
      torch_ = std::make_unique<optim::SGD>(params_, optim::SGDOptions(spec.lr)
                                                         .momentum(spec.momentum)
                                                         .nesterov(spec.nesterov)
                                                         .weight_decay(spec.weight_decay));
      break;
    case Kind::Adam:
      torch_ = std::make_unique<optim::Adam>(params_, optim::AdamOptions(spec.lr)
                                                          .betas({spec.beta1, spec.beta2})
                                                          .eps(spec.eps)
                                                          .weight_decay(spec.weight_decay));
      break;
    case Kind::AdamW:
      torch_ = std::make_unique<optim::AdamW>(params_, optim::AdamWOptions(spec.lr)
                                                           .betas({spec.beta1, spec.beta2})
                                                           .eps(spec.eps)
                                                           .weight_decay(spec.weight_decay));
      break;
    case Kind::RmsProp:
      torch_ = std::make_unique<optim::RMSprop>(params_, optim::RMSpropOptions(spec.lr)
                                                             .alpha(spec.alpha)
                                                             .eps(spec.eps)
                                                             .momentum(spec.momentum)
                                                             .weight_decay(spec.weight_decay));
      break;
    case Kind::Adagrad:
      torch_ = std::make_unique<optim::Adagrad>(
          params_, optim::AdagradOptions(spec.lr).eps(spec.eps).weight_decay(spec.weight_decay));
      break;
    case Kind::Adadelta:
      for (const auto& p : params_) {
        square_avg_.push_back(torch::zeros_like(p));
        acc_delta_.push_back(torch::zeros_like(p));
      }
      break;
  }
}

Optimizer::~Optimizer() = default;

void Optimizer::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) {
      p.grad().detach_();
      p.grad().zero_();
    }
  }
}

void Optimizer::step() {
  if (torch_) {
    torch_->step();
  } else {
    adadelta_step();
  }
}

void Optimizer::set_lr(double lr) {
  lr_ = lr;
  if (torch_) {
    for (auto& group : torch_->param_groups()) group.options().set_lr(lr);
  }
}

void Optimizer::adadelta_step() {
  torch::NoGradGuard no_grad;
  const double rho = spec_.rho, eps = spec_.eps;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    torch::Tensor grad = p.grad();
    if (spec_.weight_decay != 0) grad = grad.add(p, spec_.weight_decay);
    square_avg_[i].mul_(rho).addcmul_(grad, grad, 1 - rho);
    const torch::Tensor std = square_avg_[i].add(eps).sqrt_();
    const torch::Tensor delta = acc_delta_[i].add(eps).sqrt_().div_(std).mul_(grad);
    acc_delta_[i].mul_(rho).addcmul_(delta, delta, 1 - rho);
    p.add_(delta, -lr_);
  }
}

void Optimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write("lr", torch::tensor(lr_, torch::kFloat64));
  if (torch_) {
    torch::serialize::OutputArchive inner;
    torch_->save(inner);
    archive.write("torch", inner);
    return;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.write(fmt::format("square_avg.{}", i), square_avg_[i], /*is_buffer=*/true);
    archive.write(fmt::format("acc_delta.{}", i), acc_delta_[i], /*is_buffer=*/true);
  }
}

void Optimizer::load(torch::serialize::InputArchive& archive) {
  torch::Tensor lr;
  archive.read("lr", lr);
  if (torch_) {
    torch::serialize::InputArchive inner;
    archive.read("torch", inner);
    torch_->load(inner);
  } else {
    for (size_t i = 0; i < params_.size(); ++i) {
      archive.read(fmt::format("square_avg.{}", i), square_avg_[i], /*is_buffer=*/true);
      archive.read(fmt::format("acc_delta.{}", i), acc_delta_[i], /*is_buffer=*/true);
    }
  }
  set_lr(lr.item<double>());
}

std::string optimizer_kind_name(spec::OptimizerSpec::Kind kind) {
  return spec::optimizer_traits(kind).name;
}

std::string optimizer_name(const spec::OptimizerSpec& spec) {
  std::string out = fmt::format("{}(lr={:g}", optimizer_kind_name(spec.kind), spec.lr);
  if (spec.momentum > 0) out += fmt::format(", momentum={:g}", spec.momentum);
  if (spec.nesterov) out += ", nesterov";
  if (spec.weight_decay > 0) out += fmt::format(", weight_decay={:g}", spec.weight_decay);
  return out + ")";
}

}  // namespace lossdoctor::train
