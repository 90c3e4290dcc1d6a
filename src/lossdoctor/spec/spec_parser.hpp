#pragma once
// Reads a YAML spec into a validated spec::Spec.
//
// Contract:
//   requires: `path` names a readable YAML file; each override is "key.path=value" where
//             key.path uses dots and [i] indices (e.g. model.layers[3].conv2d.filters=64) and
//             value is a YAML scalar or flow collection ([1, 2], {a: 1}).
//   ensures:  the returned Spec has every key type-checked and range-checked; paths in
//             spec.data.path are resolved relative to the spec file's directory unless absolute;
//             spec.resolved_yaml holds the merged document.
//   throws:   SpecError "file:line:col: key.path: message" (or "--set k=v: key.path: message")
//             on the first problem: unknown key (with "did you mean"), wrong type, out of range,
//             missing required key, malformed YAML, unreadable file.

#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::spec {

Spec parse_spec_file(const std::string& path, const std::vector<std::string>& overrides = {});

/// Same, from text (tests, and specs generated in memory). `file_label` is used in messages.
Spec parse_spec_text(const std::string& yaml_text, const std::string& file_label,
                     const std::vector<std::string>& overrides = {});

/// `s.resolved_yaml` with its data locations made absolute (data.path, and each split's `path`
/// and `exclude` when written): the text a run directory keeps as spec.yaml, which must load the
/// same data from any working directory and any folder it is copied to. Other keys, and file
/// names relative to data.path, are as written.
///   requires: `s` came from parse_spec_file/parse_spec_text (resolved_yaml is set).
std::string resolved_yaml_with_absolute_paths(const Spec& s);

/// Closest candidate by edit distance, or "" when none is close enough to suggest.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lossdoctor::spec
