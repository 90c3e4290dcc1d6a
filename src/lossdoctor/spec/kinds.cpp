#include "lossdoctor/spec/kinds.hpp"

#include <stdexcept>

namespace lossdoctor::spec {

bool is_relu_family(const std::string& k) {
  return k == "relu" || k == "leaky_relu" || k == "elu" || k == "selu" || k == "gelu";
}

bool is_saturating(const std::string& k) { return k == "sigmoid" || k == "tanh"; }

const std::vector<OptimizerTraits>& all_optimizer_traits() {
  // Usual ranges: what the libraries' docs and common recipes use; outside them a rate is odd
  // for the optimiser (docs/diagnoses.md, lr_too_high / lr_too_low).
  static const std::vector<OptimizerTraits> table = {
      {"sgd", 0.01, 0.1, 1e-3, 0.5, false, {"lr", "momentum", "nesterov", "weight_decay"}},
      {"adam", 1e-3, 1e-3, 1e-4, 1e-2, true, {"lr", "betas", "eps", "weight_decay"}},
      {"adamw", 1e-3, 1e-3, 1e-4, 1e-2, true, {"lr", "betas", "eps", "weight_decay"}},
      {"rmsprop", 1e-3, 1e-3, 1e-4, 1e-2, true, {"lr", "alpha", "eps", "momentum", "weight_decay"}},
      {"adagrad", 0.01, 0.01, 1e-3, 0.5, true, {"lr", "eps", "weight_decay"}},
      {"adadelta", 1.0, 1.0, 0.1, 10.0, true, {"lr", "rho", "eps", "weight_decay"}},
  };
  return table;
}

namespace {
/// The row named `name`, or nullptr.
const OptimizerTraits* find_traits(const std::string& name) {
  for (const auto& t : all_optimizer_traits())
    if (t.name == name) return &t;
  return nullptr;
}
}  // namespace

const OptimizerTraits& optimizer_traits(const std::string& name) {
  if (const auto* t = find_traits(name)) return *t;
  throw std::out_of_range("unknown optimizer '" + name + "'");
}

const OptimizerTraits& optimizer_traits(OptimizerSpec::Kind kind) {
  switch (kind) {
    case OptimizerSpec::Kind::Sgd:
      return optimizer_traits("sgd");
    case OptimizerSpec::Kind::Adam:
      return optimizer_traits("adam");
    case OptimizerSpec::Kind::AdamW:
      return optimizer_traits("adamw");
    case OptimizerSpec::Kind::RmsProp:
      return optimizer_traits("rmsprop");
    case OptimizerSpec::Kind::Adagrad:
      return optimizer_traits("adagrad");
    case OptimizerSpec::Kind::Adadelta:
      return optimizer_traits("adadelta");
  }
  throw std::out_of_range("unknown optimizer kind");
}

double usual_lr(const OptimizerSpec& o) {
  const auto& t = optimizer_traits(o.kind);
  return o.momentum > 0 ? t.usual_lr_with_momentum : t.usual_lr;
}

bool lr_in_usual_range(const std::string& optimizer, double lr) {
  const auto* t = find_traits(optimizer);
  return t != nullptr && lr >= t->usual_min && lr <= t->usual_max;
}

bool lr_below_usual_range(const std::string& optimizer, double lr) {
  const auto* t = find_traits(optimizer);
  return t != nullptr && lr < t->usual_min;
}

}  // namespace lossdoctor::spec
