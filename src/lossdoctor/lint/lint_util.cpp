#include "lossdoctor/lint/lint_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace lossdoctor::lint::util {

using spec::InitScheme;
using spec::TransformSpec;

Finding make_finding(const std::string& cause, const std::string& severity) {
  Finding f;
  f.cause = cause;
  f.severity = severity;
  f.status = "suspected";
  f.confidence = severity == "error"     ? kErrorConfidence
                 : severity == "warning" ? kWarningConfidence
                                         : kInfoConfidence;
  return f;
}

Finding with_severity(Finding f, const std::string& severity) {
  f.severity = severity;
  f.confidence = make_finding(f.cause, severity).confidence;
  return f;
}

std::string num(double v) { return fmt::format("{}", v); }

bool is_weight(Kind k) { return k == Kind::Conv2d || k == Kind::Dense; }
bool is_relu_family(Kind k) {
  return k == Kind::ReLU || k == Kind::LeakyReLU || k == Kind::ELU || k == Kind::GELU;
}
bool is_saturating(Kind k) { return k == Kind::Sigmoid || k == Kind::Tanh; }
bool is_activation(Kind k) { return is_relu_family(k) || is_saturating(k) || k == Kind::SELU; }

bool contains(const std::vector<LayerSpec>& layers, Kind k) {
  for (const auto& L : layers) {
    if (L.kind == k) return true;
    if (!L.layers.empty() && contains(L.layers, k)) return true;
  }
  return false;
}

int64_t count_weight_layers(const std::vector<LayerSpec>& layers) {
  return count_if(layers, [](const LayerSpec& L) { return is_weight(L.kind); });
}

namespace {
void collect(const std::vector<LayerSpec>& layers, std::vector<const LayerSpec*>& out) {
  for (const auto& L : layers) {
    out.push_back(&L);
    collect(L.layers, out);
  }
}
}  // namespace

std::vector<const LayerSpec*> all_layers(const std::vector<LayerSpec>& layers) {
  std::vector<const LayerSpec*> out;
  collect(layers, out);
  return out;
}

std::vector<const LayerSpec*> output_tail(const std::vector<LayerSpec>& layers) {
  size_t start = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& L = layers[i];
    if (is_weight(L.kind) || (!L.layers.empty() && count_weight_layers(L.layers) > 0))
      start = i + 1;
  }
  std::vector<const LayerSpec*> out;
  for (size_t i = start; i < layers.size(); ++i) out.push_back(&layers[i]);
  return out;
}

std::string item_path(const LayerSpec& L) {
  size_t dot = L.key_path.rfind('.');
  return dot == std::string::npos ? L.key_path : L.key_path.substr(0, dot);
}

int64_t num_classes(const spec::Spec& s, const LintContext& ctx) {
  return s.data.num_classes.value_or(ctx.num_classes);
}

std::optional<std::array<int64_t, 3>> input_shape(const spec::Spec& s, const LintContext& ctx) {
  if (ctx.input_shape) return ctx.input_shape;
  std::array<int64_t, 3> shape{};
  switch (s.data.format) {
    case spec::DataSpec::Format::Idx:
      shape = {1, 28, 28};
      break;
    case spec::DataSpec::Format::Cifar10:
      shape = {3, 32, 32};
      break;
    case spec::DataSpec::Format::Folder:
      if (!s.data.channels || !s.data.image_size) return std::nullopt;
      shape = {*s.data.channels, s.data.image_size->first, s.data.image_size->second};
      break;
  }
  for (const auto& t : s.data.train_transforms) {
    if (t.kind == TransformSpec::Kind::Resize) {
      shape[1] = t.height;
      shape[2] = t.width;
    } else if (t.kind == TransformSpec::Kind::RandomCrop) {
      shape[1] = shape[2] = t.size;
    }
  }
  return shape;
}

Plan plan(const spec::Spec& s) {
  Plan p;
  int64_t n = s.data.format == spec::DataSpec::Format::Cifar10 ? 50000 : 60000;
  if (s.data.train.limit) n = *s.data.train.limit;
  p.steps_per_epoch = std::max<int64_t>(1, (n + s.batch_size - 1) / s.batch_size);
  p.steps = s.max_steps ? *s.max_steps : s.epochs * p.steps_per_epoch;
  p.epochs = std::max<int64_t>(1, (p.steps + p.steps_per_epoch - 1) / p.steps_per_epoch);
  return p;
}

// ------------------------------------------------------------------------------------------------

namespace {

std::optional<int64_t> window(std::optional<int64_t> in, int64_t k, int64_t stride, int64_t pad) {
  if (!in) return std::nullopt;
  int64_t out = (*in + 2 * pad - k) / stride + 1;
  if (*in + 2 * pad < k) return std::nullopt;  // invalid: the builder rejects it
  return out;
}

void walk_layers(const std::vector<LayerSpec>& layers, Shape& shape, std::vector<Visit>& out) {
  for (const auto& L : layers) {
    Visit v;
    v.layer = &L;
    v.in = shape;
    switch (L.kind) {
      case Kind::Conv2d: {
        if (shape.c) v.fan_in = *shape.c * L.kernel * L.kernel;
        int64_t pad = L.same_padding ? L.kernel / 2 : L.padding;
        bool even_same = L.same_padding && L.kernel % 2 == 0;
        Shape o;
        o.c = L.filters;
        o.h = even_same ? shape.h : window(shape.h, L.kernel, L.stride, pad);
        o.w = even_same ? shape.w : window(shape.w, L.kernel, L.stride, pad);
        shape = o;
        break;
      }
      case Kind::Dense: {
        if (shape.flat)
          v.fan_in = shape.features;
        else if (shape.c && shape.h && shape.w)
          v.fan_in = *shape.c * *shape.h * *shape.w;
        Shape o;
        o.flat = true;
        o.features = L.units;
        shape = o;
        break;
      }
      case Kind::MaxPool:
      case Kind::AvgPool: {
        int64_t stride = L.pool_stride > 0 ? L.pool_stride : L.size;
        shape.h = window(shape.h, L.size, stride, 0);
        shape.w = window(shape.w, L.size, stride, 0);
        break;
      }
      case Kind::GlobalAvgPool: {
        Shape o;
        o.flat = true;
        o.features = shape.c;
        shape = o;
        break;
      }
      case Kind::Flatten: {
        if (!shape.flat) {
          Shape o;
          o.flat = true;
          if (shape.c && shape.h && shape.w) o.features = *shape.c * *shape.h * *shape.w;
          shape = o;
        }
        break;
      }
      default:
        break;
    }
    if (L.kind == Kind::Repeat) {
      out.push_back(v);
      for (int64_t t = 0; t < L.times; ++t) walk_layers(L.layers, shape, out);
      out.back().out = shape;
      continue;
    }
    if (L.kind == Kind::Residual) {
      out.push_back(v);
      Shape inner = shape;
      walk_layers(L.layers, inner, out);  // output = input + body(input): the input's shape
      continue;
    }
    v.out = shape;
    out.push_back(v);
  }
}

}  // namespace

std::vector<Visit> walk(const spec::Spec& s, const LintContext& ctx) {
  Shape shape;
  if (auto in = input_shape(s, ctx)) {
    shape.c = (*in)[0];
    shape.h = (*in)[1];
    shape.w = (*in)[2];
  }
  std::vector<Visit> out;
  walk_layers(s.layers, shape, out);
  return out;
}

// ------------------------------------------------------------------------------------------------

InitScheme effective_weight(const spec::Spec& s, const LayerSpec& L) {
  if (L.init.weight) return *L.init.weight;
  if (s.init.weight) return *s.init.weight;
  return InitScheme{};
}

InitScheme effective_bias(const spec::Spec& s, const LayerSpec& L) {
  if (L.init.bias) return *L.init.bias;
  if (s.init.bias) return *s.init.bias;
  return InitScheme{};
}

std::string scheme_name(InitScheme::Kind k) {
  switch (k) {
    case InitScheme::Kind::Default:
      return "default";
    case InitScheme::Kind::HeNormal:
      return "he_normal";
    case InitScheme::Kind::HeUniform:
      return "he_uniform";
    case InitScheme::Kind::GlorotNormal:
      return "glorot_normal";
    case InitScheme::Kind::GlorotUniform:
      return "glorot_uniform";
    case InitScheme::Kind::Normal:
      return "normal";
    case InitScheme::Kind::Uniform:
      return "uniform";
    case InitScheme::Kind::Zeros:
      return "zeros";
    case InitScheme::Kind::Constant:
      return "constant";
  }
  return "default";
}

std::string scheme_text(const InitScheme& sch) {
  switch (sch.kind) {
    case InitScheme::Kind::Normal:
      return fmt::format("{{normal: {{std: {}}}}}", num(sch.std));
    case InitScheme::Kind::Uniform:
      return fmt::format("{{uniform: {{a: {}}}}}", num(sch.a));
    case InitScheme::Kind::Constant:
      return fmt::format("{{constant: {{value: {}}}}}", num(sch.value));
    default:
      return scheme_name(sch.kind);
  }
}

void set_init_fix(const spec::Spec& s, const LayerSpec* L, std::optional<InitScheme> weight,
                  std::optional<InitScheme> bias, Finding& f) {
  const bool own = L && ((weight && L->init.weight) || (bias && L->init.bias));
  const spec::InitSpec& base = own ? L->init : s.init;
  const std::string key = own ? L->key_path + ".init" : "model.init";
  std::optional<InitScheme> w = base.weight, b = base.bias;
  if (weight) w = weight;
  if (bias) b = bias;
  std::vector<std::string> parts;
  if (w) parts.push_back("weight: " + scheme_text(*w));
  if (b) parts.push_back("bias: " + scheme_text(*b));
  std::string text = "{";
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? ", " : "") + parts[i];
  text += "}";
  f.fix[key] = text;
}

// ------------------------------------------------------------------------------------------------

namespace {
std::string list_text(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + num(v[i]);
  return out + "]";
}
}  // namespace

std::string transform_text(const TransformSpec& t) {
  switch (t.kind) {
    case TransformSpec::Kind::Scale:
      return fmt::format("{{scale: {}}}", num(t.factor));
    case TransformSpec::Kind::Normalize:
      return fmt::format("{{normalize: {{mean: {}, std: {}}}}}", list_text(t.mean),
                         list_text(t.std));
    case TransformSpec::Kind::Resize:
      return fmt::format("{{resize: [{}, {}]}}", t.height, t.width);
    case TransformSpec::Kind::RandomCrop:
      return fmt::format("{{random_crop: {{size: {}, padding: {}}}}}", t.size, t.padding);
    case TransformSpec::Kind::RandomFlip:
      return "{random_flip: horizontal}";
  }
  return "{}";
}

std::string pipeline_text(const std::vector<TransformSpec>& ts) {
  std::string out = "[";
  for (size_t i = 0; i < ts.size(); ++i) out += (i ? ", " : "") + transform_text(ts[i]);
  return out + "]";
}

std::vector<TransformSpec> deterministic(const std::vector<TransformSpec>& ts) {
  std::vector<TransformSpec> out;
  for (const auto& t : ts)
    if (!t.is_augmentation()) out.push_back(t);
  return out;
}

namespace {
bool close(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}
bool close(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!close(a[i], b[i])) return false;
  return true;
}
}  // namespace

bool same_step(const TransformSpec& a, const TransformSpec& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case TransformSpec::Kind::Scale:
      return close(a.factor, b.factor);
    case TransformSpec::Kind::Normalize:
      return close(a.mean, b.mean) && close(a.std, b.std);
    case TransformSpec::Kind::Resize:
      return a.height == b.height && a.width == b.width;
    case TransformSpec::Kind::RandomCrop:
      return a.size == b.size && a.padding == b.padding;
    case TransformSpec::Kind::RandomFlip:
      return true;
  }
  return false;
}

}  // namespace lossdoctor::lint::util
