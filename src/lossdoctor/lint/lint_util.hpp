#pragma once
// Helpers shared by the lint rules: layer walks, a small shape walk, init and transform text in
// `--set` syntax, and a Finding builder. Internal to the lint stage.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::lint::util {

using spec::LayerSpec;
using Kind = spec::LayerSpec::Kind;

constexpr double kErrorConfidence = 0.9;
constexpr double kWarningConfidence = 0.6;
/// An "info" finding: a value unusual enough to be worth a test, not a fault on its own (lint's
/// verdict ignores it; the doctor screens it with a rerun when the run otherwise looks healthy).
constexpr double kInfoConfidence = 0.35;
constexpr double kInv255 = 0.00392156862745098;  ///< 1/255

/// A finding with cause, severity and the matching default confidence.
Finding make_finding(const std::string& cause, const std::string& severity);

/// `f` with another severity and that severity's default confidence.
Finding with_severity(Finding f, const std::string& severity);

/// Shortest text that reads back as the same double ("0.001", "1e-08").
std::string num(double v);

bool is_weight(Kind k);       ///< conv2d, dense
bool is_relu_family(Kind k);  ///< relu, leaky_relu, elu, gelu
bool is_saturating(Kind k);   ///< sigmoid, tanh
bool is_activation(Kind k);   ///< any pointwise non-linearity (not softmax)
using spec::layer_kind_name;  ///< the spec's layer name, e.g. "leaky_relu"

/// Any layer of kind `k` anywhere (inside repeat and residual too).
bool contains(const std::vector<LayerSpec>& layers, Kind k);
/// Weight layers (conv2d, dense), counting repeat bodies `times` times.
int64_t count_weight_layers(const std::vector<LayerSpec>& layers);
/// Occurrences of layers matching `pred`, counting repeat bodies `times` times.
template <typename Pred>
int64_t count_if(const std::vector<LayerSpec>& layers, Pred pred) {
  int64_t n = 0;
  for (const auto& L : layers) {
    if (L.kind == Kind::Repeat)
      n += L.times * count_if(L.layers, pred);
    else if (L.kind == Kind::Residual)
      n += count_if(L.layers, pred);
    else if (pred(L))
      n += 1;
  }
  return n;
}
/// Every layer spec once (depth first, containers before their bodies).
std::vector<const LayerSpec*> all_layers(const std::vector<LayerSpec>& layers);

/// Top-level layers after the last top-level layer that holds weights (the model's output head:
/// softmax, activations, dropout...). Empty when the model ends on a weight layer.
std::vector<const LayerSpec*> output_tail(const std::vector<LayerSpec>& layers);

/// Path of the list item holding `L`, e.g. "model.layers[3]" for "model.layers[3].relu".
std::string item_path(const LayerSpec& L);

/// Number of classes: data.num_classes when given, else the context's.
int64_t num_classes(const spec::Spec& s, const LintContext& ctx);

/// Input shape {C, H, W}: the context's, else inferred from the data format (idx 1×28×28,
/// cifar10 3×32×32, folder with channels and image_size) and the train transforms' resize/crop.
std::optional<std::array<int64_t, 3>> input_shape(const spec::Spec& s, const LintContext& ctx);

/// Planned optimiser steps and steps per epoch (train.limit or the full split / batch_size).
struct Plan {
  int64_t steps_per_epoch = 1;
  int64_t steps = 1;
  int64_t epochs = 1;
};
Plan plan(const spec::Spec& s);

// ------------------------------------------------------------------------------------------------
// Shape walk: one Visit per layer occurrence (repeat bodies expanded), in forward order.

struct Shape {
  std::optional<int64_t> c, h, w;   ///< image map (when !flat)
  std::optional<int64_t> features;  ///< flat vector (when flat)
  bool flat = false;
};

struct Visit {
  const LayerSpec* layer = nullptr;
  Shape in, out;
  std::optional<int64_t> fan_in;  ///< conv2d, dense, when known
};

std::vector<Visit> walk(const spec::Spec& s, const LintContext& ctx);

// ------------------------------------------------------------------------------------------------
// Init.

/// The weight (or bias) scheme a layer gets: its own, else the model's, else Default.
spec::InitScheme effective_weight(const spec::Spec& s, const LayerSpec& L);
spec::InitScheme effective_bias(const spec::Spec& s, const LayerSpec& L);
/// Scheme as YAML flow text: "he_normal", "{normal: {std: 0.01}}".
std::string scheme_text(const spec::InitScheme& sch);
std::string scheme_name(spec::InitScheme::Kind k);
/// Override that sets the weight (and/or bias) scheme where `L` takes it from: the layer's own
/// init map when it has one, else model.init. Writes the whole init map so stale parameters
/// (std, a, value) cannot make the spec invalid.
void set_init_fix(const spec::Spec& s, const LayerSpec* L, std::optional<spec::InitScheme> weight,
                  std::optional<spec::InitScheme> bias, Finding& f);

// ------------------------------------------------------------------------------------------------
// Transforms.

std::string transform_text(const spec::TransformSpec& t);
std::string pipeline_text(const std::vector<spec::TransformSpec>& ts);
/// The deterministic steps (no random_crop/random_flip).
std::vector<spec::TransformSpec> deterministic(const std::vector<spec::TransformSpec>& ts);
bool same_step(const spec::TransformSpec& a, const spec::TransformSpec& b);

}  // namespace lossdoctor::lint::util
