#pragma once
// Weight and bias initialisation schemes (spec `init`).
//
// Contract:
//   requires: weight is a conv2d [out, in, kh, kw] or dense [out, in] weight; bias is [out] or
//             undefined.
//   ensures:  he_* use fan_in and the ReLU gain √2 (std √(2/fan_in)); glorot_* use
//             fan_in + fan_out (std √(2/(fan_in+fan_out))); normal(std), uniform(-a, a),
//             zeros, constant(value); `default` leaves libtorch's initialisation untouched.
//             A bias under he/glorot uses the weight's fans. Draws come from torch's generator.

#include <torch/types.h>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::model {

/// Fills `param` in place according to `scheme`, with fans taken from `weight`.
void apply_init(torch::Tensor& param, const torch::Tensor& weight, const spec::InitScheme& scheme);

/// Resolves a layer's effective schemes (layer → model → default) and applies them.
void init_layer(torch::Tensor& weight, torch::Tensor& bias, const spec::InitSpec& layer_init,
                const spec::InitSpec& model_init);

/// Spec spelling of a scheme, e.g. "he_normal" or "normal(std=5)".
std::string init_scheme_name(const spec::InitScheme& scheme);

}  // namespace lossdoctor::model
