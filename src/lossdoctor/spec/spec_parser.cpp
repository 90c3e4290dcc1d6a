// YAML spec → typed, validated spec::Spec. See spec_parser.hpp for the contract and docs/spec.md
// for every key.
//
// Structure: the text is loaded into a YAML document, `--set` overrides are applied to that tree
// (remembering which key paths each override wrote), then the tree is walked once by typed
// readers that check every key, type and range. Each value's Location comes from its YAML mark,
// or from the override that wrote it.

#include "lossdoctor/spec/spec_parser.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "lossdoctor/spec/kinds.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/number.hpp"

namespace lossdoctor::spec {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxWidth = 1000000;     // filters, units
constexpr int64_t kMaxKernel = 1024;       // kernel, stride, pool size
constexpr int64_t kMaxLimit = 100000000;   // data split limit
constexpr int64_t kMaxBatch = 1000000;     // batch_size
constexpr int64_t kMaxImageSide = 65536;   // resize, image_size, random_crop
constexpr int64_t kMaxRepeat = 10000;      // repeat.times
constexpr const char* kRootPath = "spec";  // key path used for top-level messages
// Bounds on the text itself, checked before yaml-cpp sees it: a spec is a few hundred lines, and
// yaml-cpp recurses per nesting level and expands aliases on every walk.
constexpr size_t kMaxSpecBytes = 1 << 20;      // 1 MiB
constexpr int kMaxNesting = 64;                // flow brackets and block indentation levels
constexpr int64_t kMaxExpandedNodes = 100000;  // nodes seen when every alias is expanded
constexpr const char* kDefaultIdxPath = "/usr/share/datasets/fashion-mnist";

// ---------------------------------------------------------------------------------------------
// Provenance: which parts of the document were written by `--set`.

struct Origin {
  std::string path;    // canonical key path the override wrote (or a map it created)
  std::string text;    // the override text, "key.path=value"
  bool exact = false;  // true: covers only `path` itself (a map created on the way)
};

bool path_covers(const std::string& prefix, const std::string& path) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  if (path.size() == prefix.size()) return true;
  char next = path[prefix.size()];
  return next == '.' || next == '[';
}

class Ctx {
 public:
  Ctx(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  const std::string& file() const { return file_; }
  const fs::path& base_dir() const { return base_dir_; }
  std::vector<Origin>& origins() { return origins_; }

  /// Location of `node`, which sits at key path `path` in the merged document.
  Location loc(const YAML::Node& node, const std::string& path) const {
    Location l;
    l.file = file_;
    for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
      if (it->exact ? it->path == path : path_covers(it->path, path)) {
        l.override = it->text;
        return l;
      }
    }
    if (node.IsDefined()) {
      YAML::Mark m = node.Mark();
      if (m.line >= 0 && m.column >= 0) {
        l.line = m.line + 1;
        l.column = m.column + 1;
      }
    }
    return l;
  }

  [[noreturn]] void fail(const Location& where, const std::string& key_path,
                         const std::string& message) const {
    throw SpecError(where.str(), key_path, message);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    fail(loc(node, path), path, message);
  }

 private:
  std::string file_;
  fs::path base_dir_;
  std::vector<Origin> origins_;
};

// ---------------------------------------------------------------------------------------------
// Scalar readers.

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    case YAML::NodeType::Scalar:
      break;
  }
  return "'" + n.Scalar() + "'";
}

double read_number(const Ctx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) {
    if (auto v = parse_number(n.Scalar())) return *v;
  }
  c.fail(n, path, "expected a number, got " + describe(n));
}

/// A finite number.
double read_finite(const Ctx& c, const YAML::Node& n, const std::string& path) {
  double v = read_number(c, n, path);
  if (!std::isfinite(v)) c.fail(n, path, "must be a finite number, got " + n.Scalar());
  return v;
}

int64_t read_int(const Ctx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (!s.empty() && !std::isspace(static_cast<unsigned char>(s.front()))) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (end == s.c_str() + s.size()) {
        if (errno == ERANGE) c.fail(n, path, "integer out of range, got " + s);
        return v;
      }
    }
    if (auto d = parse_number(s)) {  // 1e6, 32.0
      if (std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9.0e18)
        return static_cast<int64_t>(*d);
    }
  }
  c.fail(n, path, "expected an integer, got " + describe(n));
}

bool read_bool(const Ctx& c, const YAML::Node& n, const std::string& path) {
  bool b = false;
  if (n.IsScalar() && YAML::convert<bool>::decode(n, b)) return b;
  c.fail(n, path, "expected a boolean (true or false), got " + describe(n));
}

std::string read_string(const Ctx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) return n.Scalar();
  c.fail(n, path, "expected a string, got " + describe(n));
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

template <typename E>
E read_enum(const Ctx& c, const YAML::Node& n, const std::string& path,
            const std::vector<std::pair<std::string, E>>& options) {
  std::vector<std::string> names;
  for (const auto& o : options) names.push_back(o.first);
  if (!n.IsScalar())
    c.fail(n, path, "expected one of " + join(names, ", ") + ", got " + describe(n));
  const std::string& s = n.Scalar();
  for (const auto& o : options)
    if (o.first == s) return o.second;
  std::string msg = "expected one of " + join(names, ", ") + ", got '" + s + "'";
  std::string close = did_you_mean(s, names);
  if (!close.empty()) msg += " (did you mean '" + close + "'?)";
  c.fail(n, path, msg);
}

// Range checks: the message quotes the value as written.
std::string shown(const YAML::Node& n) { return n.IsScalar() ? n.Scalar() : describe(n); }

void check(bool ok, const Ctx& c, const YAML::Node& n, const std::string& path,
           const std::string& rule) {
  if (!ok) c.fail(n, path, "must be " + rule + ", got " + shown(n));
}

int64_t read_int_in(const Ctx& c, const YAML::Node& n, const std::string& path, int64_t lo,
                    int64_t hi) {
  int64_t v = read_int(c, n, path);
  check(v >= lo, c, n, path, fmt::format(">= {}", lo));
  check(v <= hi, c, n, path, fmt::format("<= {}", hi));
  return v;
}

// ---------------------------------------------------------------------------------------------
// Mappings: unknown-key detection with suggestions, required keys, child paths.

class MapView {
 public:
  /// `node` must be a mapping (null counts as an empty one). `owner` is the node to point at
  /// when the mapping itself has no position (null or absent), e.g. the key that introduced it.
  MapView(const Ctx& c, const YAML::Node& node, std::string path, const YAML::Node& owner,
          const std::vector<std::string>& allowed)
      : c_(c), path_(std::move(path)) {
    if (node.IsDefined() && !node.IsNull() && !node.IsMap())
      c.fail(node, path_, "expected a mapping, got " + describe(node));
    where_ = c.loc(node, path_);
    if (where_.line == 0 && where_.override.empty()) where_ = c.loc(owner, path_);
    if (!node.IsMap()) return;
    for (const auto& pair : node) {
      YAML::Node k = pair.first;
      if (!k.IsScalar()) c.fail(k, path_, "expected a plain key name, got " + describe(k));
      const std::string& key = k.Scalar();
      Location kloc = c.loc(k, child(key));
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string msg = "unknown key '" + key + "'";
        std::string close = did_you_mean(key, allowed);
        if (!close.empty()) msg += " (did you mean '" + close + "'?)";
        c.fail(kloc, path_, msg);
      }
      for (const auto& e : entries_) {
        if (e.key == key) c.fail(kloc, path_, "duplicate key '" + key + "'");
      }
      entries_.push_back({key, k, pair.second});
    }
  }

  bool has(const std::string& key) const { return find(key) != nullptr; }
  /// Present and not null.
  bool has_value(const std::string& key) const {
    const Entry* e = find(key);
    return e && !e->value.IsNull();
  }
  YAML::Node get(const std::string& key) const {
    const Entry* e = find(key);
    return e ? e->value : YAML::Node();
  }
  YAML::Node key_node(const std::string& key) const {
    const Entry* e = find(key);
    return e ? e->key_node : YAML::Node();
  }
  Location key_loc(const std::string& key) const { return c_.loc(key_node(key), child(key)); }
  std::string child(const std::string& key) const {
    return path_ == kRootPath ? key : path_ + "." + key;
  }
  const std::string& path() const { return path_; }
  const Location& where() const { return where_; }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.key);
    return out;
  }

  void require(const std::string& key) const {
    if (!has(key)) c_.fail(where_, path_, "missing required key '" + key + "'");
  }

  // Typed accessors: assign `out` only when the key is present.
  template <typename T, typename F>
  void opt(const std::string& key, T& out, F read) const {
    if (const Entry* e = find(key)) out = read(c_, e->value, child(key));
  }
  void number(const std::string& key, double& out) const { opt(key, out, read_finite); }
  void integer(const std::string& key, int64_t& out) const { opt(key, out, read_int); }
  void boolean(const std::string& key, bool& out) const { opt(key, out, read_bool); }
  void string(const std::string& key, std::string& out) const { opt(key, out, read_string); }
  void integer_in(const std::string& key, int64_t& out, int64_t lo, int64_t hi) const {
    if (const Entry* e = find(key)) out = read_int_in(c_, e->value, child(key), lo, hi);
  }
  /// A finite number with a range rule: ok(v) must hold, else "must be <rule>, got <value>".
  template <typename Ok>
  void number_if(const std::string& key, double& out, Ok ok, const std::string& rule) const {
    if (const Entry* e = find(key)) {
      double v = read_finite(c_, e->value, child(key));
      check(ok(v), c_, e->value, child(key), rule);
      out = v;
    }
  }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  const Entry* find(const std::string& key) const {
    for (const auto& e : entries_)
      if (e.key == key) return &e;
    return nullptr;
  }

  const Ctx& c_;
  std::string path_;
  Location where_;
  std::vector<Entry> entries_;
};

/// `node` as a list (null = empty list).
std::vector<YAML::Node> read_list(const Ctx& c, const YAML::Node& n, const std::string& path) {
  std::vector<YAML::Node> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) c.fail(n, path, "expected a list, got " + describe(n));
  for (const auto& item : n) out.push_back(item);
  return out;
}

std::vector<double> read_number_list(const Ctx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) return {read_finite(c, n, path)};
  std::vector<double> out;
  auto items = read_list(c, n, path);
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(read_finite(c, items[i], fmt::format("{}[{}]", path, i)));
  return out;
}

/// `[h, w]` or a single side `n`.
std::pair<int64_t, int64_t> read_hw(const Ctx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) {
    int64_t s = read_int_in(c, n, path, 1, kMaxImageSide);
    return {s, s};
  }
  auto items = read_list(c, n, path);
  if (items.size() != 2)
    c.fail(
        n, path,
        fmt::format("expected [height, width] or a single size, got a list of {}", items.size()));
  return {read_int_in(c, items[0], path + "[0]", 1, kMaxImageSide),
          read_int_in(c, items[1], path + "[1]", 1, kMaxImageSide)};
}

/// A one-key mapping `{kind: args}` or a bare `kind`: returns (kind, key node, args).
struct Tagged {
  std::string kind;
  YAML::Node key;     // node to point at for the kind (key, or the bare scalar)
  YAML::Node args;    // null when bare
  bool bare = false;  // written as a plain name, e.g. `- relu`
};

Tagged read_tagged(const Ctx& c, const YAML::Node& n, const std::string& path, const char* what,
                   const char* example) {
  if (n.IsScalar()) return {n.Scalar(), n, YAML::Node(), true};
  if (!n.IsMap())
    c.fail(n, path, fmt::format("expected a {} like {}, got {}", what, example, describe(n)));
  std::vector<std::pair<YAML::Node, YAML::Node>> kv;
  for (const auto& pair : n) kv.emplace_back(pair.first, pair.second);
  if (kv.empty())
    c.fail(n, path, fmt::format("expected a {} like {}, got an empty mapping", what, example));
  for (const auto& p : kv)
    if (!p.first.IsScalar())
      c.fail(p.first, path, "expected a plain key name, got " + describe(p.first));
  if (kv.size() > 1) {
    std::vector<std::string> names;
    for (const auto& p : kv) names.push_back(p.first.Scalar());
    std::string msg = fmt::format("a {} is a one-key mapping like {}, got keys {}", what, example,
                                  join(names, ", "));
    if (kv[0].second.IsNull()) msg += fmt::format(" (indent the settings under '{}')", names[0]);
    c.fail(c.loc(kv[1].first, path + "." + kv[1].first.Scalar()), path, msg);
  }
  return {kv[0].first.Scalar(), kv[0].first, kv[0].second, false};
}

void unknown_kind(const Ctx& c, const Tagged& t, const std::string& path, const char* what,
                  const std::vector<std::string>& kinds) {
  std::string msg = fmt::format("unknown {} '{}'", what, t.kind);
  std::string close = did_you_mean(t.kind, kinds);
  if (!close.empty())
    msg += " (did you mean '" + close + "'?)";
  else
    msg += "; expected one of " + join(kinds, ", ");
  c.fail(c.loc(t.key, path + "." + t.kind), path, msg);
}

// ---------------------------------------------------------------------------------------------
// Sections.

const std::vector<std::pair<std::string, InitScheme::Kind>> kInitKinds = {
    {"default", InitScheme::Kind::Default},
    {"he_normal", InitScheme::Kind::HeNormal},
    {"he_uniform", InitScheme::Kind::HeUniform},
    {"glorot_normal", InitScheme::Kind::GlorotNormal},
    {"glorot_uniform", InitScheme::Kind::GlorotUniform},
    {"normal", InitScheme::Kind::Normal},
    {"uniform", InitScheme::Kind::Uniform},
    {"zeros", InitScheme::Kind::Zeros},
    {"constant", InitScheme::Kind::Constant}};

const char* param_of(InitScheme::Kind k) {
  switch (k) {
    case InitScheme::Kind::Normal:
      return "std";
    case InitScheme::Kind::Uniform:
      return "a";
    case InitScheme::Kind::Constant:
      return "value";
    default:
      return nullptr;
  }
}

struct SchemeRead {
  InitScheme scheme;
  bool param_given = false;  // the scheme's own mapping set its parameter
};

void read_init_param(const Ctx& c, const YAML::Node& v, const std::string& path,
                     const std::string& key, InitScheme& s) {
  double x = read_finite(c, v, path);
  if (key == "std") {
    check(x > 0, c, v, path, "> 0");
    s.std = x;
  } else if (key == "a") {
    check(x > 0, c, v, path, "> 0");
    s.a = x;
  } else {
    s.value = x;
  }
}

SchemeRead read_scheme(const Ctx& c, const YAML::Node& n, const std::string& path) {
  SchemeRead r;
  if (n.IsScalar() || n.IsNull()) {
    r.scheme.kind = read_enum(c, n, path, kInitKinds);
    return r;
  }
  Tagged t = read_tagged(c, n, path, "scheme", "he_normal or {normal: {std: 0.1}}");
  std::vector<std::string> names;
  for (const auto& k : kInitKinds) names.push_back(k.first);
  auto it = std::find(names.begin(), names.end(), t.kind);
  if (it == names.end()) unknown_kind(c, t, path, "init scheme", names);
  r.scheme.kind = kInitKinds[it - names.begin()].second;
  const char* param = param_of(r.scheme.kind);
  std::string sub = path + "." + t.kind;
  std::vector<std::string> allowed;
  if (param) allowed.push_back(param);
  MapView m(c, t.args, sub, t.key, allowed);
  if (param && m.has(param)) {
    read_init_param(c, m.get(param), m.child(param), param, r.scheme);
    r.param_given = true;
  }
  return r;
}

InitSpec read_init(const Ctx& c, const YAML::Node& n, const std::string& path,
                   const YAML::Node& owner) {
  MapView m(c, n, path, owner, {"weight", "bias", "std", "a", "value"});
  InitSpec out;
  SchemeRead w, b;
  if (m.has("weight")) {
    w = read_scheme(c, m.get("weight"), m.child("weight"));
    out.weight = w.scheme;
  }
  if (m.has("bias")) {
    b = read_scheme(c, m.get("bias"), m.child("bias"));
    out.bias = b.scheme;
  }
  for (const char* key : {"std", "a", "value"}) {
    if (!m.has(key)) continue;
    bool used = false;
    for (auto* s : {&w, &b}) {
      std::optional<InitScheme>& target = (s == &w) ? out.weight : out.bias;
      if (!target || param_of(target->kind) == nullptr ||
          std::string(param_of(target->kind)) != key)
        continue;
      used = true;
      if (!s->param_given) read_init_param(c, m.get(key), m.child(key), key, *target);
    }
    if (!used) {
      const char* scheme = std::string(key) == "std" ? "normal"
                           : std::string(key) == "a" ? "uniform"
                                                     : "constant";
      c.fail(
          m.key_loc(key), m.child(key),
          fmt::format("'{}' is only used by the '{}' scheme, and neither weight nor bias uses it",
                      key, scheme));
    }
  }
  return out;
}

// Layers.

const std::vector<std::pair<std::string, LayerSpec::Kind>> kLayerKinds = {
    {"conv2d", LayerSpec::Kind::Conv2d},
    {"dense", LayerSpec::Kind::Dense},
    {"batchnorm", LayerSpec::Kind::BatchNorm},
    {"relu", LayerSpec::Kind::ReLU},
    {"leaky_relu", LayerSpec::Kind::LeakyReLU},
    {"sigmoid", LayerSpec::Kind::Sigmoid},
    {"tanh", LayerSpec::Kind::Tanh},
    {"selu", LayerSpec::Kind::SELU},
    {"elu", LayerSpec::Kind::ELU},
    {"gelu", LayerSpec::Kind::GELU},
    {"maxpool", LayerSpec::Kind::MaxPool},
    {"avgpool", LayerSpec::Kind::AvgPool},
    {"global_avgpool", LayerSpec::Kind::GlobalAvgPool},
    {"dropout", LayerSpec::Kind::Dropout},
    {"flatten", LayerSpec::Kind::Flatten},
    {"softmax", LayerSpec::Kind::Softmax},
    {"log_softmax", LayerSpec::Kind::LogSoftmax},
    {"repeat", LayerSpec::Kind::Repeat},
    {"residual", LayerSpec::Kind::Residual}};

std::vector<LayerSpec> read_layers(const Ctx& c, const YAML::Node& n, const std::string& path,
                                   const Location& owner_where);

LayerSpec read_layer(const Ctx& c, const YAML::Node& n, const std::string& item_path) {
  Tagged t = read_tagged(c, n, item_path, "layer", "{conv2d: {filters: 32}} or relu");
  std::vector<std::string> names;
  for (const auto& k : kLayerKinds) names.push_back(k.first);
  auto it = std::find(names.begin(), names.end(), t.kind);
  if (it == names.end()) {
    // The kind is the key of the item: report it against the item's path.
    std::string msg = fmt::format("unknown layer '{}'", t.kind);
    std::string close = did_you_mean(t.kind, names);
    if (!close.empty())
      msg += " (did you mean '" + close + "'?)";
    else
      msg += "; expected one of " + join(names, ", ");
    c.fail(c.loc(t.key, item_path + "." + t.kind), item_path, msg);
  }
  LayerSpec L;
  L.kind = kLayerKinds[it - names.begin()].second;
  L.key_path = item_path + "." + t.kind;
  L.where = c.loc(t.key, L.key_path);

  std::vector<std::string> allowed;
  switch (L.kind) {
    case LayerSpec::Kind::Conv2d:
      allowed = {"filters", "kernel", "stride", "padding", "bias", "init"};
      break;
    case LayerSpec::Kind::Dense:
      allowed = {"units", "bias", "init"};
      break;
    case LayerSpec::Kind::BatchNorm:
      allowed = {"momentum", "eps"};
      break;
    case LayerSpec::Kind::LeakyReLU:
      allowed = {"negative_slope"};
      break;
    case LayerSpec::Kind::ELU:
      allowed = {"alpha"};
      break;
    case LayerSpec::Kind::MaxPool:
    case LayerSpec::Kind::AvgPool:
      allowed = {"size", "stride"};
      break;
    case LayerSpec::Kind::Dropout:
      allowed = {"rate"};
      break;
    case LayerSpec::Kind::Repeat:
      allowed = {"times", "layers"};
      break;
    case LayerSpec::Kind::Residual:
      allowed = {"layers"};
      break;
    default:
      break;
  }
  MapView m(c, t.args, L.key_path, t.key, allowed);
  switch (L.kind) {
    case LayerSpec::Kind::Conv2d: {
      m.require("filters");
      m.integer_in("filters", L.filters, 1, kMaxWidth);
      m.integer_in("kernel", L.kernel, 1, kMaxKernel);
      m.integer_in("stride", L.stride, 1, kMaxKernel);
      if (m.has("padding")) {
        YAML::Node p = m.get("padding");
        std::optional<double> num = p.IsScalar() ? parse_number(p.Scalar()) : std::nullopt;
        if (p.IsScalar() && p.Scalar() == "same") {
          L.same_padding = true;
        } else if (p.IsScalar() && p.Scalar() == "valid") {
          L.padding = 0;
        } else if (num) {
          L.padding = read_int_in(c, p, m.child("padding"), 0, kMaxKernel);
        } else {
          std::string msg = "expected same, valid or an integer, got " + describe(p);
          if (p.IsScalar()) {
            std::string close = did_you_mean(p.Scalar(), {"same", "valid"});
            if (!close.empty()) msg += " (did you mean '" + close + "'?)";
          }
          c.fail(p, m.child("padding"), msg);
        }
      }
      m.boolean("bias", L.bias);
      if (m.has("init")) L.init = read_init(c, m.get("init"), m.child("init"), m.key_node("init"));
      break;
    }
    case LayerSpec::Kind::Dense:
      m.require("units");
      m.integer_in("units", L.units, 1, kMaxWidth);
      m.boolean("bias", L.bias);
      if (m.has("init")) L.init = read_init(c, m.get("init"), m.child("init"), m.key_node("init"));
      break;
    case LayerSpec::Kind::BatchNorm:
      m.number_if(
          "momentum", L.momentum, [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
      m.number_if(
          "eps", L.eps, [](double v) { return v > 0; }, "> 0");
      break;
    case LayerSpec::Kind::LeakyReLU:
      m.number("negative_slope", L.negative_slope);
      break;
    case LayerSpec::Kind::ELU:
      m.number("alpha", L.alpha);
      break;
    case LayerSpec::Kind::MaxPool:
    case LayerSpec::Kind::AvgPool:
      m.integer_in("size", L.size, 1, kMaxKernel);
      m.integer_in("stride", L.pool_stride, 1, kMaxKernel);
      break;
    case LayerSpec::Kind::Dropout:
      m.number_if(
          "rate", L.rate, [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
      break;
    case LayerSpec::Kind::Repeat:
      m.require("times");
      m.integer_in("times", L.times, 1, kMaxRepeat);
      m.require("layers");
      L.layers = read_layers(c, m.get("layers"), m.child("layers"), m.where());
      break;
    case LayerSpec::Kind::Residual:
      m.require("layers");
      L.layers = read_layers(c, m.get("layers"), m.child("layers"), m.where());
      break;
    default:
      break;
  }
  return L;
}

std::vector<LayerSpec> read_layers(const Ctx& c, const YAML::Node& n, const std::string& path,
                                   const Location& owner_where) {
  auto items = read_list(c, n, path);
  if (items.empty()) {
    Location l = c.loc(n, path);
    if (l.line == 0 && l.override.empty()) l = owner_where;
    c.fail(l, path, "must list at least one layer");
  }
  std::vector<LayerSpec> out;
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(read_layer(c, items[i], fmt::format("{}[{}]", path, i)));
  return out;
}

// Transforms.

std::vector<TransformSpec> read_transforms(const Ctx& c, const YAML::Node& n,
                                           const std::string& path) {
  static const std::vector<std::string> kinds = {"scale", "normalize", "resize", "random_crop",
                                                 "random_flip"};
  std::vector<TransformSpec> out;
  auto items = read_list(c, n, path);
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item_path = fmt::format("{}[{}]", path, i);
    Tagged t = read_tagged(c, items[i], item_path, "transform", "{scale: 0.0039}");
    auto it = std::find(kinds.begin(), kinds.end(), t.kind);
    if (it == kinds.end()) {
      std::string msg = fmt::format("unknown transform '{}'", t.kind);
      std::string close = did_you_mean(t.kind, kinds);
      if (!close.empty())
        msg += " (did you mean '" + close + "'?)";
      else
        msg += "; expected one of " + join(kinds, ", ");
      c.fail(c.loc(t.key, item_path + "." + t.kind), item_path, msg);
    }
    TransformSpec T;
    std::string tp = item_path + "." + t.kind;
    T.where = c.loc(t.key, tp);
    if (t.bare && t.kind != "random_flip")
      c.fail(T.where, tp,
             fmt::format("'{}' needs a value, e.g. {}", t.kind,
                         t.kind == "scale"       ? "{scale: 0.00392156862745098}"
                         : t.kind == "normalize" ? "{normalize: {mean: [0.286], std: [0.353]}}"
                         : t.kind == "resize"    ? "{resize: [32, 32]}"
                                                 : "{random_crop: {size: 28, padding: 2}}"));
    if (t.kind == "scale") {
      T.kind = TransformSpec::Kind::Scale;
      T.factor = read_finite(c, t.args, tp);
      check(T.factor > 0, c, t.args, tp, "> 0");
    } else if (t.kind == "normalize") {
      T.kind = TransformSpec::Kind::Normalize;
      MapView m(c, t.args, tp, t.key, {"mean", "std"});
      m.require("mean");
      m.require("std");
      T.mean = read_number_list(c, m.get("mean"), m.child("mean"));
      T.std = read_number_list(c, m.get("std"), m.child("std"));
      if (T.mean.empty()) c.fail(m.get("mean"), m.child("mean"), "must have at least one entry");
      auto std_items = m.get("std").IsSequence() ? read_list(c, m.get("std"), m.child("std"))
                                                 : std::vector<YAML::Node>{m.get("std")};
      for (size_t j = 0; j < T.std.size(); ++j) {
        std::string sp =
            m.get("std").IsSequence() ? fmt::format("{}[{}]", m.child("std"), j) : m.child("std");
        check(T.std[j] > 0, c, std_items[j], sp, "> 0");
      }
      if (T.std.size() != T.mean.size())
        c.fail(m.get("std"), m.child("std"),
               fmt::format("must have as many entries as mean ({}), got {}", T.mean.size(),
                           T.std.size()));
    } else if (t.kind == "resize") {
      T.kind = TransformSpec::Kind::Resize;
      std::tie(T.height, T.width) = read_hw(c, t.args, tp);
    } else if (t.kind == "random_crop") {
      T.kind = TransformSpec::Kind::RandomCrop;
      if (t.args.IsScalar()) {
        T.size = read_int_in(c, t.args, tp, 1, kMaxImageSide);
      } else {
        MapView m(c, t.args, tp, t.key, {"size", "padding"});
        m.require("size");
        m.integer_in("size", T.size, 1, kMaxImageSide);
        m.integer_in("padding", T.padding, 0, kMaxImageSide);
      }
    } else {  // random_flip
      T.kind = TransformSpec::Kind::RandomFlip;
      T.horizontal = true;
      if (t.args.IsScalar()) {
        const std::string& s = t.args.Scalar();
        if (s == "vertical")
          c.fail(t.args, tp, "only horizontal flips are supported, got 'vertical'");
        if (s != "horizontal") c.fail(t.args, tp, "expected horizontal, got '" + s + "'");
      } else if (!t.args.IsNull()) {
        MapView m(c, t.args, tp, t.key, {});  // {} only
      }
    }
    out.push_back(std::move(T));
  }
  return out;
}

// Data.

/// `p` made absolute against the working directory (std::filesystem::absolute), normalised.
std::string absolute_path(const fs::path& p) {
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  return (ec ? p : a).lexically_normal().string();
}

// A split's `path` and `exclude` are relative to data.path (already resolved) when it is set,
// like its image and label files; otherwise to the spec's directory. They are resolved here,
// once, to absolute paths: the loader joins relative names with data.path, so a relative result
// would be joined twice ("imgs/imgs") when the spec and data.path are both relative.
void read_split(const Ctx& c, const MapView& data, const std::string& key, DataSpec::Format fmt_,
                const std::string& data_path, SplitSpec& s) {
  if (!data.has(key) || data.get(key).IsNull()) return;
  MapView m(c, data.get(key), data.child(key), data.key_node(key),
            {"images", "labels", "files", "path", "limit", "exclude"});
  s.present = true;
  auto only_for = [&](const char* k, DataSpec::Format f, const char* fname) {
    if (m.has(k) && fmt_ != f)
      c.fail(m.key_loc(k), m.path(), fmt::format("'{}' is only used with format: {}", k, fname));
  };
  only_for("images", DataSpec::Format::Idx, "idx");
  only_for("labels", DataSpec::Format::Idx, "idx");
  only_for("files", DataSpec::Format::Cifar10, "cifar10");
  only_for("path", DataSpec::Format::Folder, "folder");
  m.string("images", s.images);
  m.string("labels", s.labels);
  if (m.has("files")) {
    s.files.clear();
    auto items = read_list(c, m.get("files"), m.child("files"));
    if (items.empty()) c.fail(m.get("files"), m.child("files"), "must list at least one file");
    for (size_t i = 0; i < items.size(); ++i)
      s.files.push_back(read_string(c, items[i], fmt::format("{}[{}]", m.child("files"), i)));
  }
  auto resolve = [&](const std::string& p) {
    fs::path fp(p);
    const fs::path base = data_path.empty() ? c.base_dir() : fs::path(data_path);
    return absolute_path(fp.is_absolute() || base.empty() ? fp : base / fp);
  };
  if (m.has("path")) s.path = resolve(read_string(c, m.get("path"), m.child("path")));
  if (m.has("limit")) s.limit = read_int_in(c, m.get("limit"), m.child("limit"), 1, kMaxLimit);
  if (m.has("exclude")) s.exclude = resolve(read_string(c, m.get("exclude"), m.child("exclude")));
}

DataSpec read_data(const Ctx& c, const YAML::Node& n, const YAML::Node& owner) {
  MapView m(c, n, "data", owner,
            {"format", "path", "train", "val", "split", "shuffle", "num_classes", "channels",
             "image_size", "skip_bad_images", "transforms", "inject"});
  DataSpec d;
  if (m.has("format"))
    d.format = read_enum<DataSpec::Format>(c, m.get("format"), m.child("format"),
                                           {{"idx", DataSpec::Format::Idx},
                                            {"cifar10", DataSpec::Format::Cifar10},
                                            {"folder", DataSpec::Format::Folder}});
  auto resolve = [&](const std::string& p) {
    fs::path fp(p);
    if (fp.is_absolute() || c.base_dir().empty()) return fp.lexically_normal().string();
    return (c.base_dir() / fp).lexically_normal().string();
  };
  if (m.has("path")) {
    std::string p = read_string(c, m.get("path"), m.child("path"));
    if (p.empty()) c.fail(m.get("path"), m.child("path"), "must not be empty");
    d.path = resolve(p);
  } else if (d.format == DataSpec::Format::Idx) {
    d.path = kDefaultIdxPath;
  } else if (d.format == DataSpec::Format::Cifar10) {
    m.require("path");
  }
  if (d.format == DataSpec::Format::Idx) {
    d.train.images = "train-images-idx3-ubyte.gz";
    d.train.labels = "train-labels-idx1-ubyte.gz";
    d.val.images = "t10k-images-idx3-ubyte.gz";
    d.val.labels = "t10k-labels-idx1-ubyte.gz";
  } else if (d.format == DataSpec::Format::Cifar10) {
    d.train.files = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                     "data_batch_5.bin"};
    d.val.files = {"test_batch.bin"};
  }
  read_split(c, m, "train", d.format, d.path, d.train);
  read_split(c, m, "val", d.format, d.path, d.val);
  if (d.format == DataSpec::Format::Folder) {
    if (d.train.path.empty() && !d.path.empty()) d.train.path = absolute_path(d.path);
    if (d.train.path.empty())
      c.fail(m.where(), "data",
             "missing required key 'path' (format: folder needs data.path or data.train.path)");
  }
  if (m.has("split")) {
    if (d.format != DataSpec::Format::Folder)
      c.fail(m.key_loc("split"), "data", "'split' is only used with format: folder");
    m.number_if(
        "split", d.split, [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
    if (d.split > 0 && m.has("val")) {
      c.fail(m.key_loc("split"), "data.split",
             "carves a validation set out of train, but data.val is given too; remove one");
    }
  }
  m.boolean("shuffle", d.shuffle);
  if (m.has("num_classes"))
    d.num_classes = read_int_in(c, m.get("num_classes"), m.child("num_classes"), 2, kMaxWidth);
  if (m.has("channels")) {
    int64_t ch = read_int(c, m.get("channels"), m.child("channels"));
    check(ch == 1 || ch == 3, c, m.get("channels"), m.child("channels"), "1 or 3");
    d.channels = ch;
  }
  if (m.has("image_size")) d.image_size = read_hw(c, m.get("image_size"), m.child("image_size"));
  m.boolean("skip_bad_images", d.skip_bad_images);

  if (m.has("transforms")) {
    MapView t(c, m.get("transforms"), "data.transforms", m.key_node("transforms"),
              {"train", "val"});
    if (t.has("train")) d.train_transforms = read_transforms(c, t.get("train"), t.child("train"));
    if (t.has("val")) {
      d.val_transforms = read_transforms(c, t.get("val"), t.child("val"));
      d.val_transforms_given = true;
    }
  }

  if (m.has("inject")) {
    MapView inj(c, m.get("inject"), "data.inject", m.key_node("inject"),
                {"label_noise", "corrupt", "sort_by_label", "drop_classes", "distributed"});
    auto fraction = [&](const MapView& sub, double& out) {
      sub.require("fraction");
      sub.number_if(
          "fraction", out, [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
    };
    auto fraction_or_map = [&](const std::string& key, const std::vector<std::string>& allowed,
                               double& out) -> std::optional<MapView> {
      YAML::Node v = inj.get(key);
      if (v.IsScalar()) {  // shorthand: label_noise: 0.4
        out = read_finite(c, v, inj.child(key));
        check(out >= 0 && out <= 1, c, v, inj.child(key), "in [0, 1]");
        return std::nullopt;
      }
      MapView sub(c, v, inj.child(key), inj.key_node(key), allowed);
      fraction(sub, out);
      return sub;
    };
    if (inj.has("label_noise")) fraction_or_map("label_noise", {"fraction"}, d.inject.label_noise);
    if (inj.has("corrupt")) {
      auto sub = fraction_or_map("corrupt", {"fraction", "kind"}, d.inject.corrupt);
      if (sub && sub->has("kind"))
        d.inject.corrupt_kind =
            read_enum<InjectSpec::CorruptKind>(c, sub->get("kind"), sub->child("kind"),
                                               {{"zeros", InjectSpec::CorruptKind::Zeros},
                                                {"noise", InjectSpec::CorruptKind::Noise},
                                                {"nan", InjectSpec::CorruptKind::NaN},
                                                {"saturate", InjectSpec::CorruptKind::Saturate}});
    }
    inj.boolean("sort_by_label", d.inject.sort_by_label);
    if (inj.has("distributed")) {
      // Faults of a data-parallel run (docs/distributed.md); ranks are checked against the
      // world size when the run starts (-1: no rank).
      MapView sub(c, inj.get("distributed"), inj.child("distributed"), inj.key_node("distributed"),
                  {"same_data_on_every_rank", "no_reshuffle", "skip_update_on_rank",
                   "skip_update_step", "corrupt_rank", "corrupt_rank_labels", "corrupt_rank_images",
                   "slow_rank", "slow_rank_ms"});
      DistributedInjectSpec& dist = d.inject.distributed;
      sub.boolean("same_data_on_every_rank", dist.same_data_on_every_rank);
      sub.boolean("no_reshuffle", dist.no_reshuffle);
      sub.integer_in("skip_update_on_rank", dist.skip_update_on_rank, -1, 4096);
      sub.integer_in("skip_update_step", dist.skip_update_step, 0, int64_t{1} << 40);
      sub.integer_in("corrupt_rank", dist.corrupt_rank, -1, 4096);
      sub.number_if(
          "corrupt_rank_labels", dist.corrupt_rank_labels,
          [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
      sub.number_if(
          "corrupt_rank_images", dist.corrupt_rank_images,
          [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
      sub.integer_in("slow_rank", dist.slow_rank, -1, 4096);
      sub.integer_in("slow_rank_ms", dist.slow_rank_ms, 0, 60000);
    }
    if (inj.has("drop_classes")) {
      MapView sub(c, inj.get("drop_classes"), inj.child("drop_classes"),
                  inj.key_node("drop_classes"), {"classes", "fraction"});
      fraction(sub, d.inject.drop_fraction);
      sub.require("classes");
      auto items = read_list(c, sub.get("classes"), sub.child("classes"));
      if (items.empty())
        c.fail(sub.get("classes"), sub.child("classes"), "must list at least one class");
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string item_path = fmt::format("{}[{}]", sub.child("classes"), i);
        d.inject.drop_classes.push_back(read_int_in(c, items[i], item_path, 0, 100000));
        d.inject.drop_classes_where.push_back(c.loc(items[i], item_path));
      }
    }
  }
  return d;
}

// Loss, optimiser, schedule, diagnose.

LossSpec read_loss(const Ctx& c, const YAML::Node& n, const YAML::Node& owner) {
  MapView m(c, n, "loss", owner, {"type", "from_logits", "label_smoothing", "targets"});
  LossSpec l;
  if (m.has("type"))
    l.kind = read_enum<LossSpec::Kind>(c, m.get("type"), m.child("type"),
                                       {{"cross_entropy", LossSpec::Kind::CrossEntropy},
                                        {"nll", LossSpec::Kind::Nll},
                                        {"mse", LossSpec::Kind::Mse},
                                        {"bce", LossSpec::Kind::Bce}});
  m.boolean("from_logits", l.from_logits);
  m.number_if(
      "label_smoothing", l.label_smoothing, [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
  if (m.has("targets"))
    l.one_hot_targets = read_enum<bool>(c, m.get("targets"), m.child("targets"),
                                        {{"sparse", false}, {"one_hot", true}});
  return l;
}

OptimizerSpec read_optimizer(const Ctx& c, const YAML::Node& n, const YAML::Node& owner) {
  // Every optimizer key the spec knows; which ones an optimiser accepts is spec/kinds' table.
  static const std::vector<std::string> kSettings = {"lr",  "momentum",     "nesterov", "betas",
                                                     "eps", "weight_decay", "alpha",    "rho"};
  std::vector<std::string> allowed = {"type", "lr_scaling"};
  allowed.insert(allowed.end(), kSettings.begin(), kSettings.end());
  MapView m(c, n, "optimizer", owner, allowed);
  OptimizerSpec o;
  if (m.has("type"))
    o.kind = read_enum<OptimizerSpec::Kind>(c, m.get("type"), m.child("type"),
                                            {{"sgd", OptimizerSpec::Kind::Sgd},
                                             {"adam", OptimizerSpec::Kind::Adam},
                                             {"adamw", OptimizerSpec::Kind::AdamW},
                                             {"rmsprop", OptimizerSpec::Kind::RmsProp},
                                             {"adagrad", OptimizerSpec::Kind::Adagrad},
                                             {"adadelta", OptimizerSpec::Kind::Adadelta}});
  if (o.kind == OptimizerSpec::Kind::Adadelta && !m.has("lr")) o.lr = 1.0;  // libtorch's default
  m.number_if(
      "lr", o.lr, [](double v) { return v > 0; }, "> 0");
  if (m.has("lr_scaling"))
    o.lr_scaling =
        read_enum<OptimizerSpec::LrScaling>(c, m.get("lr_scaling"), m.child("lr_scaling"),
                                            {{"none", OptimizerSpec::LrScaling::None},
                                             {"linear", OptimizerSpec::LrScaling::Linear},
                                             {"sqrt", OptimizerSpec::LrScaling::Sqrt}});
  m.number_if(
      "momentum", o.momentum, [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
  m.boolean("nesterov", o.nesterov);
  if (m.has("betas")) {
    YAML::Node b = m.get("betas");
    auto items = read_list(c, b, m.child("betas"));
    if (items.size() != 2)
      c.fail(b, m.child("betas"),
             fmt::format("expected [beta1, beta2], got a list of {}", items.size()));
    double* dst[2] = {&o.beta1, &o.beta2};
    for (int i = 0; i < 2; ++i) {
      std::string p = fmt::format("{}[{}]", m.child("betas"), i);
      *dst[i] = read_finite(c, items[i], p);
      check(*dst[i] >= 0 && *dst[i] < 1, c, items[i], p, "in [0, 1)");
    }
  }
  m.number_if(
      "eps", o.eps, [](double v) { return v > 0; }, "> 0");
  m.number_if(
      "weight_decay", o.weight_decay, [](double v) { return v >= 0; }, ">= 0");
  m.number_if(
      "alpha", o.alpha, [](double v) { return v > 0 && v < 1; }, "in (0, 1)");
  m.number_if(
      "rho", o.rho, [](double v) { return v > 0 && v < 1; }, "in (0, 1)");
  // A key this optimiser does not use would be silently ignored (adam with momentum): an error.
  const OptimizerTraits& traits = optimizer_traits(o.kind);
  for (const std::string& key : kSettings) {
    if (!m.has(key) || std::find(traits.keys.begin(), traits.keys.end(), key) != traits.keys.end())
      continue;
    std::string accepted;
    for (const auto& k : traits.keys) accepted += (accepted.empty() ? "" : ", ") + k;
    c.fail(m.get(key), m.child(key),
           fmt::format("{} has no '{}' (it would be ignored); {} takes: type, {}", traits.name, key,
                       traits.name, accepted));
  }
  if (o.nesterov && (o.kind != OptimizerSpec::Kind::Sgd || o.momentum <= 0))
    c.fail(m.get("nesterov"), m.child("nesterov"), "nesterov requires type: sgd with momentum > 0");
  return o;
}

ScheduleSpec read_schedule(const Ctx& c, const YAML::Node& n, const YAML::Node& owner) {
  MapView m(c, n, "schedule", owner,
            {"type", "step_size", "gamma", "per", "factor", "patience", "min_lr", "warmup_steps"});
  ScheduleSpec s;
  if (m.has("type"))
    s.kind = read_enum<ScheduleSpec::Kind>(c, m.get("type"), m.child("type"),
                                           {{"constant", ScheduleSpec::Kind::Constant},
                                            {"step", ScheduleSpec::Kind::Step},
                                            {"exponential", ScheduleSpec::Kind::Exponential},
                                            {"cosine", ScheduleSpec::Kind::Cosine},
                                            {"plateau", ScheduleSpec::Kind::Plateau}});
  m.integer_in("step_size", s.step_size, 1, std::numeric_limits<int64_t>::max());
  m.number_if(
      "gamma", s.gamma, [](double v) { return v > 0; }, "> 0");
  if (m.has("per"))
    s.per_step =
        read_enum<bool>(c, m.get("per"), m.child("per"), {{"epoch", false}, {"step", true}});
  m.number_if(
      "factor", s.factor, [](double v) { return v > 0 && v < 1; }, "in (0, 1)");
  m.integer_in("patience", s.patience, 0, std::numeric_limits<int64_t>::max());
  m.number_if(
      "min_lr", s.min_lr, [](double v) { return v >= 0; }, ">= 0");
  m.integer_in("warmup_steps", s.warmup_steps, 0, std::numeric_limits<int64_t>::max());
  return s;
}

DiagnoseSpec read_diagnose(const Ctx& c, const YAML::Node& n, const YAML::Node& owner) {
  MapView m(c, n, "diagnose", owner, {"budget_steps", "probe_every", "confirm"});
  DiagnoseSpec d;
  m.integer_in("budget_steps", d.budget_steps, 1, std::numeric_limits<int64_t>::max());
  m.integer_in("probe_every", d.probe_every, 1, std::numeric_limits<int64_t>::max());
  m.boolean("confirm", d.confirm);
  return d;
}

Spec read_spec(const Ctx& c, const YAML::Node& root) {
  MapView m(c, root, kRootPath, root,
            {"name", "seed", "device", "data", "model", "loss", "optimizer", "schedule",
             "clip_grad_norm", "batch_size", "epochs", "max_steps", "diagnose"});
  Spec s;
  s.file = c.file();
  s.name = fs::path(c.file()).stem().string();
  if (m.has("name")) {
    s.name = read_string(c, m.get("name"), "name");
    if (s.name.empty()) c.fail(m.get("name"), "name", "must not be empty");
  }
  if (m.has("seed")) {
    int64_t seed = read_int(c, m.get("seed"), "seed");
    check(seed >= 0, c, m.get("seed"), "seed", ">= 0");
    s.seed = static_cast<uint64_t>(seed);
  }
  if (m.has("device"))
    s.device = read_enum<std::string>(c, m.get("device"), "device",
                                      {{"auto", "auto"}, {"cpu", "cpu"}, {"cuda", "cuda"}});
  s.data = read_data(c, m.get("data"), m.has("data") ? m.key_node("data") : root);

  m.require("model");
  MapView model(c, m.get("model"), "model", m.key_node("model"),
                {"init", "layers", "sync_batchnorm"});
  if (model.has("init"))
    s.init = read_init(c, model.get("init"), "model.init", model.key_node("init"));
  model.require("layers");
  s.layers = read_layers(c, model.get("layers"), "model.layers", model.key_loc("layers"));
  model.boolean("sync_batchnorm", s.sync_batchnorm);

  if (m.has("loss")) s.loss = read_loss(c, m.get("loss"), m.key_node("loss"));
  if (m.has("optimizer"))
    s.optimizer = read_optimizer(c, m.get("optimizer"), m.key_node("optimizer"));
  if (m.has("schedule")) s.schedule = read_schedule(c, m.get("schedule"), m.key_node("schedule"));
  if (m.has_value("clip_grad_norm")) {
    double v = read_finite(c, m.get("clip_grad_norm"), "clip_grad_norm");
    check(v > 0, c, m.get("clip_grad_norm"), "clip_grad_norm", "> 0 (or null for no clipping)");
    s.clip_grad_norm = v;
  }
  m.integer_in("batch_size", s.batch_size, 1, kMaxBatch);
  m.integer_in("epochs", s.epochs, 1, 1000000);
  if (m.has_value("max_steps"))
    s.max_steps =
        read_int_in(c, m.get("max_steps"), "max_steps", 1, std::numeric_limits<int64_t>::max());
  if (m.has("diagnose")) s.diagnose = read_diagnose(c, m.get("diagnose"), m.key_node("diagnose"));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Overrides.

struct Segment {
  bool is_index = false;
  std::string key;
  size_t index = 0;
};

std::string canonical(const std::vector<Segment>& segs, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (segs[i].is_index) {
      out += fmt::format("[{}]", segs[i].index);
    } else {
      if (!out.empty()) out += ".";
      out += segs[i].key;
    }
  }
  return out.empty() ? kRootPath : out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string at_line(const std::string& label, const std::string& text, size_t offset) {
  const auto begin = text.begin();
  const auto line = std::count(begin, begin + static_cast<std::ptrdiff_t>(offset), '\n') + 1;
  const size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  const size_t column = offset - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  return fmt::format("{}:{}:{}", label, line, column);
}

/// Length of the UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8.
size_t utf8_length(const std::string& text, size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  const size_t n = b < 0x80           ? 1
                   : (b >> 5) == 0x6  ? 2
                   : (b >> 4) == 0xe  ? 3
                   : (b >> 3) == 0x1e ? 4
                                      : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return 0;
  }
  return n;
}

/// What yaml-cpp handles badly or reports in words no user can act on: NUL bytes, text that is
/// not UTF-8, nesting deep enough to exhaust its recursion ("bad file"), a double quote that is
/// never closed (yaml-cpp swallows the rest of the file into one string and the user reads
/// "missing required key 'model'"), a ',' outside any flow collection where yaml-cpp 0.7 loops
/// forever (first on a line, or after a quoted scalar, a closed collection, an anchor, a tag or
/// '---'; found by fuzz/spec_fuzz).
void check_text(const std::string& text, const std::string& label) {
  int depth = 0;
  bool in_comment = false;
  char quote = 0;
  bool escaped = false;  // the next character inside a quote is escaped
  size_t quote_at = 0;
  char last_sig = 0;       // last non-blank character of the current line (outside comments)
  size_t line_begin = 0;   // index of the current line's first character
  size_t token_begin = 0;  // index of the current line's last blank-separated token
  // Whether the next token would start a node: at the start of a line, after "key: ", after a
  // "- " or "? " that itself stood where a node starts, after a flow indicator inside a flow
  // collection, and after an anchor (&a) or tag (!!map) that stood there. In the middle of a plain
  // scalar ("lay[1", "a [b", "foo - [") quotes and brackets are text.
  bool at_node = true;
  bool in_property = false;  // inside an anchor or tag token that stood where a node starts
  size_t closed_quote_at = std::string::npos;  // where the last quoted scalar ended
  auto blank_or_end = [&](size_t i) {
    return i >= text.size() || text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
           text[i] == '\r';
  };
  auto token_start = [&](size_t i) {
    if (i == 0) return true;
    const char p = text[i - 1];
    return p == ' ' || p == '\t' || p == '\n' || p == '[' || p == '{' || p == ',';
  };
  auto node_start = [&](size_t i) { return token_start(i) && at_node; };
  for (size_t i = 0; i < text.size();) {
    const char ch = text[i];
    if (ch == '\0') {
      throw SpecError(at_line(label, text, i), "yaml",
                      "a NUL byte: a spec is a text file (is this a binary file?)");
    }
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
      throw SpecError(at_line(label, text, i), "yaml",
                      fmt::format("a control character (0x{:02x}): a spec is plain text",
                                  static_cast<int>(ch)));
    }
    const size_t n = utf8_length(text, i);
    if (n == 0) {
      throw SpecError(at_line(label, text, i), "yaml", "not UTF-8 text (save the spec as UTF-8)");
    }
    // A flow indicator ends an anchor or tag ("!,": the ',' is still stray).
    if (in_property && std::strchr(",[]{}", ch) != nullptr) in_property = false;
    const bool starts_node = node_start(i);
    if (ch == ' ' || ch == '\t' || ch == '\r') in_property = false;
    if (ch == '\n') {
      in_comment = false;
      in_property = false;
      last_sig = 0;
      line_begin = i + 1;
      at_node = true;
    } else if (in_comment) {
      // nothing: brackets and quotes in comments do not count
    } else if (quote != 0) {
      if (escaped) {
        escaped = false;
      } else if (quote == '"' && ch == '\\') {
        escaped = true;  // \" and the like
      } else if (ch == quote) {
        // '' inside single quotes is a quote character, not the end
        if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          escaped = true;
        } else {
          quote = 0;
          closed_quote_at = i;
        }
      }
    } else if (ch == '#' && token_start(i)) {
      in_comment = true;
    } else if (in_property) {
      // the rest of an anchor or tag: the node still starts after it
    } else if ((ch == '"' || ch == '\'') && (starts_node || closed_quote_at + 1 == i)) {
      // A quote where a node starts, or right after a quoted scalar: yaml-cpp's scanner starts
      // another quoted scalar there (the eighth loop: '""' '"n"' then an anchor and a ',').
      quote = ch;
      quote_at = i;
      at_node = false;
    } else if ((ch == '-' || ch == '?') && starts_node && blank_or_end(i + 1)) {
      // a block sequence entry or complex key: a node starts after it
    } else if ((ch == '&' || ch == '!') && (starts_node || closed_quote_at + 1 == i)) {
      // An anchor or tag where a node starts, or right after a quoted scalar (yaml-cpp's
      // scanner starts a token there too).
      in_property = true;
      token_begin = i;
    } else if (ch == ':' && (blank_or_end(i + 1) || depth > 0)) {
      at_node = true;
    } else if (ch == ',' && depth > 0) {
      at_node = true;
    } else if (ch == ',' && depth == 0) {
      const std::string line_so_far = text.substr(line_begin, i - line_begin);
      const char token = last_sig == 0 ? 0 : text[token_begin];
      const bool stray = last_sig == 0 || last_sig == '"' || last_sig == '\'' || last_sig == ']' ||
                         last_sig == '}' || token == '&' || token == '!' || token == '*' ||
                         line_so_far.find_first_not_of("- \t") == std::string::npos;
      if (stray) {
        throw SpecError(at_line(label, text, i), "yaml",
                        "a ',' outside any [list] or {mapping}; quote the value if the comma "
                        "belongs to it");
      }
    } else if ((ch == '[' || ch == '{') && (depth > 0 || starts_node)) {
      // Inside a plain scalar ("lay[1", "a [b") a bracket is text, not a collection.
      at_node = true;
      if (++depth > kMaxNesting) {
        throw SpecError(
            at_line(label, text, i), "yaml",
            fmt::format("nested more than {} levels deep; a spec needs a handful", kMaxNesting));
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
      at_node = false;
    } else if (ch != ' ' && ch != '\t' && ch != '\r') {
      at_node = false;  // a plain scalar: brackets and quotes in it are text
    }
    if (!in_comment && ch != ' ' && ch != '\t' && ch != '\n') {
      if (last_sig == 0 || text[i - 1] == ' ' || text[i - 1] == '\t') token_begin = i;
      last_sig = ch;
    }
    i += n;
  }
  if (quote != 0) {
    throw SpecError(at_line(label, text, quote_at), "yaml",
                    fmt::format("unterminated quote: this {} is never closed", quote));
  }
}

/// Counts the nodes a walk would visit with every alias expanded, stopping at the budget: an
/// alias bomb (each anchor a list of ten aliases of the previous) is a few lines of text but
/// billions of nodes to anything that walks it.
void count_expanded(const YAML::Node& node, int64_t& budget, int depth, const std::string& label) {
  if (--budget < 0 || depth > kMaxNesting) {
    const YAML::Mark m = node.Mark();
    throw SpecError(
        m.is_null() ? label : fmt::format("{}:{}:{}", label, m.line + 1, m.column + 1), "yaml",
        depth > kMaxNesting ? fmt::format("nested more than {} levels deep", kMaxNesting)
                            : fmt::format("the spec expands to more than {} YAML nodes once its "
                                          "aliases (*name) are expanded; an alias bomb?",
                                          kMaxExpandedNodes));
  }
  if (node.IsSequence()) {
    for (const auto& child : node) count_expanded(child, budget, depth + 1, label);
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      count_expanded(kv.first, budget, depth + 1, label);
      count_expanded(kv.second, budget, depth + 1, label);
    }
  }
}

void apply_override(Ctx& c, YAML::Node& root, const std::string& text) {
  const std::string where = "--set " + text;
  size_t eq = text.find('=');
  if (eq == std::string::npos)
    throw SpecError(where, "override", "expected key.path=value (e.g. optimizer.lr=0.01)");
  std::string key = trim(text.substr(0, eq));
  std::string value_text = text.substr(eq + 1);
  if (key.empty()) throw SpecError(where, "override", "missing key path before '='");

  // Parse "a.b[2].c" into segments.
  std::vector<Segment> segs;
  size_t i = 0;
  bool expect_name = true;
  while (i < key.size()) {
    if (key[i] == '[') {
      size_t close = key.find(']', i);
      std::string digits = close == std::string::npos ? "" : key.substr(i + 1, close - i - 1);
      if (segs.empty() || digits.empty() ||
          digits.find_first_not_of("0123456789") != std::string::npos)
        throw SpecError(where, "override",
                        fmt::format("malformed key path '{}': expected [index] after a key", key));
      if (digits.size() > 9) {
        throw SpecError(where, "override",
                        fmt::format("index [{}] in '{}' is out of range", digits, key));
      }
      segs.push_back({true, "", static_cast<size_t>(std::stoull(digits))});
      i = close + 1;
      expect_name = false;
    } else if (key[i] == '.') {
      if (expect_name)
        throw SpecError(where, "override", fmt::format("malformed key path '{}': empty key", key));
      expect_name = true;
      ++i;
    } else {
      if (!expect_name)
        throw SpecError(where, "override",
                        fmt::format("malformed key path '{}': expected '.' or '['", key));
      size_t end = key.find_first_of(".[]", i);
      if (end == std::string::npos) end = key.size();
      if (end < key.size() && key[end] == ']')
        throw SpecError(where, "override",
                        fmt::format("malformed key path '{}': unexpected ']'", key));
      segs.push_back({false, trim(key.substr(i, end - i)), 0});
      i = end;
      expect_name = false;
    }
  }
  if (expect_name)
    throw SpecError(where, "override", fmt::format("malformed key path '{}': empty key", key));

  YAML::Node value;
  check_text(value_text, where);  // the value is YAML text too: the same hazards
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw SpecError(where, canonical(segs, segs.size()), "yaml: " + e.msg);
  }

  if (!root.IsMap()) {
    if (root.IsNull() || !root.IsDefined())
      root = YAML::Node(YAML::NodeType::Map);
    else
      throw SpecError(where, kRootPath, "the spec is not a mapping");
  }
  YAML::Node cur;
  cur.reset(root);
  for (size_t s = 0; s < segs.size(); ++s) {
    const Segment& seg = segs[s];
    bool last = s + 1 == segs.size();
    std::string here = canonical(segs, s);  // path of `cur`
    if (seg.is_index) {
      if (!cur.IsSequence())
        throw SpecError(
            where, here,
            fmt::format("cannot index [{}]: {} is {}, not a list", seg.index, here, describe(cur)));
      if (seg.index >= cur.size())
        throw SpecError(where, canonical(segs, s + 1),
                        fmt::format("index {} out of range ({} has {} item{})", seg.index, here,
                                    cur.size(), cur.size() == 1 ? "" : "s"));
      if (last) {
        cur[seg.index] = value;
      } else {
        YAML::Node next = cur[seg.index];
        cur.reset(next);
      }
    } else {
      if (cur.IsNull()) {
        // A null value on the way ("inject:", "relu: null"): becomes a mapping.
        cur = YAML::Node(YAML::NodeType::Map);
        c.origins().push_back({here, text, true});
      }
      if (!cur.IsMap())
        throw SpecError(
            where, here,
            fmt::format("cannot set '{}': {} is {}, not a mapping", seg.key, here, describe(cur)));
      if (last) {
        cur[seg.key] = value;
      } else {
        YAML::Node next = cur[seg.key];
        if (!next.IsDefined()) {
          cur[seg.key] = YAML::Node(YAML::NodeType::Map);
          next.reset(cur[seg.key]);
          c.origins().push_back({canonical(segs, s + 1), text, true});
        }
        cur.reset(next);
      }
    }
  }
  c.origins().push_back({canonical(segs, segs.size()), text, false});
}

Spec parse(const std::string& text, const std::string& label,
           const std::vector<std::string>& overrides) {
  Ctx c(label, fs::path(label).parent_path());
  check_text(text, label);
  YAML::Node root;
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      // A second document would be ignored silently: the user meant one spec.
      const YAML::Mark m = docs[1].Mark();
      throw SpecError(
          m.is_null() ? label : fmt::format("{}:{}:{}", label, m.line + 1, m.column + 1), "yaml",
          fmt::format("a spec is one YAML document, this file holds {} ('---' starts "
                      "another); merge them or remove the separator",
                      docs.size()));
    }
    if (!docs.empty()) root = docs.front();
    int64_t budget = kMaxExpandedNodes;
    count_expanded(root, budget, 0, label);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null()
                            ? label
                            : fmt::format("{}:{}:{}", label, e.mark.line + 1, e.mark.column + 1);
    throw SpecError(where, "yaml", e.msg);
  }
  if ((!root.IsDefined() || root.IsNull()) && overrides.empty()) {
    throw SpecError(label, kRootPath,
                    "the spec is empty; it needs at least model.layers (docs/spec.md, "
                    "examples/fashion-mnist.yaml)");
  }
  for (const auto& o : overrides) apply_override(c, root, o);
  Spec s;
  try {
    s = read_spec(c, root);
  } catch (const YAML::Exception& e) {  // safety net: yaml-cpp misuse should never reach users raw
    throw SpecError(label, kRootPath, "yaml: " + e.msg);
  }
  YAML::Emitter out;
  out << root;
  s.resolved_yaml = std::string(out.c_str()) + "\n";
  return s;
}

}  // namespace

std::string resolved_yaml_with_absolute_paths(const Spec& s) {
  YAML::Node root = YAML::Load(s.resolved_yaml);
  if (!root.IsMap() || !root["data"].IsMap()) return s.resolved_yaml;
  YAML::Node data = root["data"];
  // data.path as the parser resolved it (against the spec's directory), then against the cwd.
  if (data["path"].IsDefined() && !s.data.path.empty()) data["path"] = absolute_path(s.data.path);
  for (const auto& [key, split] :
       {std::pair{"train", &s.data.train}, std::pair{"val", &s.data.val}}) {
    YAML::Node node = data[key];
    if (!node.IsMap()) continue;
    if (node["path"].IsDefined() && !split->path.empty()) node["path"] = split->path;
    if (node["exclude"].IsDefined() && !split->exclude.empty()) node["exclude"] = split->exclude;
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

Spec parse_spec_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw SpecError(path, "spec", "is a directory, not a spec file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SpecError(path, "spec", std::string("cannot read file: ") + std::strerror(errno));
  // Read at most one byte past the limit: /dev/zero or a mistaken data file ends here, not in
  // an exhausted memory.
  std::string text(kMaxSpecBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad())
    throw SpecError(path, "spec", std::string("cannot read file: ") + std::strerror(errno));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxSpecBytes) {
    throw SpecError(path, "spec",
                    fmt::format("larger than {} KiB: a spec is a short YAML file (is this a data "
                                "file or a device?)",
                                kMaxSpecBytes / 1024));
  }
  return parse(text, path, overrides);
}

Spec parse_spec_text(const std::string& yaml_text, const std::string& file_label,
                     const std::vector<std::string>& overrides) {
  return parse(yaml_text, file_label, overrides);
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& cand : candidates) {
    size_t d = distance(word, cand);
    if (d < best_d) {
      best_d = d;
      best = cand;
    }
  }
  return best;
}

}  // namespace lossdoctor::spec
