#pragma once
// Writes a spec back as YAML after edits, with a comment on every edited key saying why it
// changed (what `lossdoctor repair` hands its user).
//
// Contract:
//   requires: `path` names a spec file that parses with `overrides`; each edit's key uses the
//             `--set` key syntax (dots and [i] indices) and its value is YAML text.
//   ensures:  the returned text parses (parse_spec_text) to the same Spec as
//             parse_spec_file(path, overrides + edits), keeps the collection styles of the
//             original (flow lists stay flow), and carries "# <reason> (was: <old value>)" after
//             each edited key (on the nearest enclosing block key when the key sits inside a flow
//             collection). When `out_path` lies in another directory than `path`, a relative
//             data.path is made absolute so the new file still finds its data.
//   throws:   SpecError when the edited spec does not validate (naming the edit).

#include <string>
#include <vector>

namespace lossdoctor::spec {

/// One changed key of a written spec.
struct SpecEdit {
  std::string key;     ///< e.g. "optimizer.lr"
  std::string value;   ///< YAML text, e.g. "0.001" or "[{scale: 0.0039}]"
  std::string reason;  ///< e.g. "fixes lr_too_high (confirmed: loss −73%)"
};

/// The edited spec as YAML text (see the contract above).
std::string render_edited_spec(const std::string& path, const std::vector<std::string>& overrides,
                               const std::vector<SpecEdit>& edits, const std::string& out_path);

}  // namespace lossdoctor::spec
