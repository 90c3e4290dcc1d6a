#pragma once
// The network as arithmetic: every layer's output shape and parameter count, computed from the
// spec alone, before a single tensor is allocated. The Network builds from it, and lint, audit
// and validate use it to refuse a model that cannot be built or cannot fit (no torch here).
//
// Contract:
//   requires: layers validated by the spec parser; input = {C, H, W} of one prepared image.
//   ensures:  plan_layer/plan_network give exactly the shapes Network builds (the Network calls
//             plan_layer for each layer); plan_network expands repeat blocks and sums residual
//             contents.
//   throws:   SpecError naming the layer (line, key path) when a layer cannot apply to its input
//             (kernel or pool larger than the input, dense on an unflattened input, a residual
//             block that changes the shape, an empty repeat); when repeat blocks expand to more
//             than kMaxLayers layers, or the parameters exceed kMaxParameters.
//             check_model_fits also throws when the output is not one score per class, or when
//             parameters, optimiser state and one batch's activations need more memory than
//             the machine has (the message gives the numbers).

#include <cstdint>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::model {

constexpr int64_t kMaxLayers = 10000;           // after repeat expansion
constexpr int64_t kMaxParameters = 1000000000;  // 10^9 trainable values (4 GB of float32)

struct LayerPlan {
  std::vector<int64_t> output_shape;  ///< per sample
  int64_t parameters = 0;             ///< trainable values of this layer (not its contents)
};

/// One layer (not a repeat) applied to `input`; a residual block's own shape rule only (its
/// contents are planned by plan_network).
LayerPlan plan_layer(const spec::LayerSpec& layer, const std::vector<int64_t>& input);

struct NetworkPlan {
  std::vector<int64_t> output_shape;
  int64_t parameters = 0;
  int64_t activations_per_sample = 0;  ///< values every layer outputs for one sample, summed
  int64_t layers = 0;                  ///< after repeat expansion
};

NetworkPlan plan_network(const std::vector<spec::LayerSpec>& layers,
                         const std::vector<int64_t>& input);

/// plan_network plus the checks a run needs before it allocates: one output per class, and
/// parameters + optimiser state + a batch's activations within the machine's memory.
NetworkPlan check_model_fits(const spec::Spec& spec, const std::vector<int64_t>& input,
                             int64_t num_classes);

/// "[C×H×W]"
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace lossdoctor::model
