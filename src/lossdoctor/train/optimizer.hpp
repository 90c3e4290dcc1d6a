#pragma once
// One interface over the spec's optimisers: libtorch's SGD, Adam, AdamW, RMSprop and Adagrad,
// and an Adadelta written here (libtorch's C++ API has none) following PyTorch's update rule.
//
// Contract:
//   requires: params are leaf tensors with requires_grad.
//   ensures:  step() applies one update from the current .grad; set_lr() changes the rate used
//             by the next step; save()/load() round-trip the full optimiser state, so a resumed
//             run continues bit for bit.

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <memory>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::train {

class Optimizer {
 public:
  Optimizer(const spec::OptimizerSpec& spec, std::vector<torch::Tensor> params);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void zero_grad();
  void step();
  double lr() const { return lr_; }
  void set_lr(double lr);

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  void adadelta_step();

  spec::OptimizerSpec spec_;
  double lr_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> torch_;
  std::vector<torch::Tensor> square_avg_, acc_delta_;  ///< Adadelta state
};

/// Spec spelling of the kind: "sgd", "adam", ...
std::string optimizer_kind_name(spec::OptimizerSpec::Kind kind);

/// Spec spelling with settings, e.g. "adam(lr=0.001)".
std::string optimizer_name(const spec::OptimizerSpec& spec);

}  // namespace lossdoctor::train
