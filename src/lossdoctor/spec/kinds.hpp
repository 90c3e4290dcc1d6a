#pragma once
// Knowledge about kinds, in one place: which layer kinds belong to which activation family and
// what each optimiser is (its usual learning rate, the keys it accepts). The spec parser, lint,
// the recorder and the diagnoser all read it, so they cannot disagree. No torch here.
//
// Contract:
//   requires: names as the spec writes them ("relu", "adam", ...).
//   ensures:  unknown names are in no family; optimizer_traits throws std::out_of_range for an
//             optimiser name the spec does not know (every OptimizerSpec::Kind has a row).

#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::spec {

/// ReLU and its relatives (non-saturating on the positive side): relu, leaky_relu, elu, selu, gelu.
bool is_relu_family(const std::string& layer_kind);
/// Activations whose derivative vanishes away from zero: sigmoid, tanh.
bool is_saturating(const std::string& layer_kind);

/// What practitioners know about an optimiser.
struct OptimizerTraits {
  std::string name;               ///< the spec's `optimizer.type`
  double usual_lr;                ///< the rate to suggest when the spec's is far off
  double usual_lr_with_momentum;  ///< sgd: the usual rate with momentum (else = usual_lr)
  double usual_min, usual_max;    ///< the range practitioners normally use
  bool adaptive;                  ///< per-parameter step sizes (adam family, rmsprop, adagrad...)
  std::vector<std::string> keys;  ///< optimizer keys it accepts besides `type`
};

const OptimizerTraits& optimizer_traits(OptimizerSpec::Kind kind);
const OptimizerTraits& optimizer_traits(const std::string& name);
/// Every optimiser, in the spec's order (sgd, adam, adamw, rmsprop, adagrad, adadelta).
const std::vector<OptimizerTraits>& all_optimizer_traits();

/// The usual rate for these settings (sgd with momentum has its own).
double usual_lr(const OptimizerSpec& optimizer);
/// Whether `lr` lies within the optimiser's usual range; below/above it.
bool lr_in_usual_range(const std::string& optimizer, double lr);
bool lr_below_usual_range(const std::string& optimizer, double lr);

}  // namespace lossdoctor::spec
