#include "lossdoctor/spec/spec_writer.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::spec {
namespace {

namespace fs = std::filesystem;

/// "model.layers[ 3 ].conv2d" → "model.layers[3].conv2d" (the form the walk below builds).
std::string canonical_key(const std::string& key) {
  std::string out;
  for (const char ch : key) {
    if (ch != ' ') out += ch;
  }
  return out;
}

/// The node at a canonical key path, or an undefined node.
YAML::Node find(const YAML::Node& root, const std::string& key) {
  YAML::Node node = YAML::Clone(root);
  std::string part;
  const auto descend = [&](const std::string& k) {
    if (k.empty()) return;
    if (!node.IsMap() || !node[k]) {
      node = YAML::Node(YAML::NodeType::Undefined);
      return;
    }
    node = node[k];
  };
  for (size_t i = 0; i < key.size(); ++i) {
    const char ch = key[i];
    if (ch == '.') {
      descend(part);
      part.clear();
    } else if (ch == '[') {
      descend(part);
      part.clear();
      const size_t close = key.find(']', i);
      const size_t index = std::stoul(key.substr(i + 1, close - i - 1));
      if (!node.IsSequence() || index >= node.size()) return YAML::Node(YAML::NodeType::Undefined);
      node = node[index];
      i = close;
    } else {
      part += ch;
    }
    if (!node.IsDefined()) return node;
  }
  descend(part);
  return node;
}

std::string flow_text(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  YAML::Node copy = YAML::Clone(node);
  copy.SetStyle(YAML::EmitterStyle::Flow);
  YAML::Emitter out;
  out << copy;
  return out.c_str();
}

bool is_block_collection(const YAML::Node& node) {
  return (node.IsMap() || node.IsSequence()) && node.Style() != YAML::EmitterStyle::Flow &&
         node.size() > 0;
}

/// Comments to place at `path`: edits of that key or, when its value cannot hold comments
/// (a scalar or a flow collection), of any key below it.
std::vector<std::string> comments_at(const std::string& path, const YAML::Node& value,
                                     const std::map<std::string, std::string>& comments) {
  std::vector<std::string> out;
  const bool leaf = !is_block_collection(value);
  for (const auto& [key, text] : comments) {
    const bool below = key.size() > path.size() && key.compare(0, path.size(), path) == 0 &&
                       (key[path.size()] == '.' || key[path.size()] == '[');
    if (key == path || (leaf && below)) out.push_back(text);
  }
  return out;
}

void emit(YAML::Emitter& out, const YAML::Node& node, const std::string& path,
          const std::map<std::string, std::string>& comments) {
  if (!is_block_collection(node)) {
    out << node;
    return;
  }
  if (node.IsMap()) {
    out << YAML::BeginMap;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string child = path.empty() ? key : path + "." + key;
      out << YAML::Key << kv.first << YAML::Value;
      const auto notes = comments_at(child, kv.second, comments);
      if (is_block_collection(kv.second)) {
        for (const auto& n : notes) out << YAML::Comment(n);
        emit(out, kv.second, child, comments);
      } else {
        out << kv.second;
        for (const auto& n : notes) out << YAML::Comment(n);
      }
    }
    out << YAML::EndMap;
    return;
  }
  out << YAML::BeginSeq;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string child = fmt::format("{}[{}]", path, i);
    const auto notes = comments_at(child, node[i], comments);
    emit(out, node[i], child, comments);
    for (const auto& n : notes) out << YAML::Comment(n);
  }
  out << YAML::EndSeq;
}

}  // namespace

std::string render_edited_spec(const std::string& path, const std::vector<std::string>& overrides,
                               const std::vector<SpecEdit>& edits, const std::string& out_path) {
  const Spec before = parse_spec_file(path, overrides);
  std::vector<SpecEdit> all = edits;
  const fs::path spec_dir = fs::absolute(path).parent_path().lexically_normal();
  const fs::path out_dir = fs::absolute(out_path).parent_path().lexically_normal();
  const YAML::Node before_root = YAML::Load(before.resolved_yaml);
  const YAML::Node data_path = find(before_root, "data.path");
  if (out_dir != spec_dir && data_path.IsScalar() &&
      fs::path(data_path.as<std::string>()).is_relative()) {
    all.push_back({"data.path",
                   (spec_dir / data_path.as<std::string>()).lexically_normal().string(),
                   "made absolute: this file lives in another directory than the original"});
  }

  std::vector<std::string> with_edits = overrides;
  std::map<std::string, std::string> comments;
  for (const auto& e : all) {
    with_edits.push_back(e.key + "=" + e.value);
    const std::string key = canonical_key(e.key);
    std::string text = e.reason;
    text += fmt::format(" (was: {})", flow_text(find(before_root, key)));
    auto& slot = comments[key];
    slot = slot.empty() ? text : slot + "; " + text;
  }
  const Spec after = parse_spec_file(path, with_edits);  // validates every edit
  const YAML::Node root = YAML::Load(after.resolved_yaml);

  YAML::Emitter out;
  out << YAML::Comment(
      fmt::format("Repaired by lossdoctor from {}; each changed key says why.", path));
  out << YAML::Newline;
  emit(out, root, "", comments);
  std::string text = std::string(out.c_str()) + "\n";
  // The result must read back as the same spec (from its own location).
  const Spec check = parse_spec_text(text, out_path);
  if (check.resolved_yaml != parse_spec_text(after.resolved_yaml, out_path).resolved_yaml) {
    throw InputError(fmt::format("{}: the repaired spec does not read back as written", out_path));
  }
  return text;
}

}  // namespace lossdoctor::spec
