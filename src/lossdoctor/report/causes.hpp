#pragma once
// The one table of causes: for every cause id of design.md its group, its two-sentence
// explanation, its default fix (spec overrides), the intervention the confirmation reruns, a
// fix for people (also for the causes no spec key can fix), and the lint rules and audit checks
// that feed it. Ids, reports, the diagnoser, confirmation and repair all read it; a test checks
// it against lint_rules(), docs/diagnoses.md and cause_ids(). No torch here.
//
// Contract:
//   cause_info(id): requires a cause id; throws std::out_of_range naming an unknown one.
//   default_fix(id, base_lr): the row's default fix with "{lr/10}" and "{lr*10}" replaced by
//     the base learning rate ÷ 10 or × 10 (3 significant digits); empty when the row has none.

#include <map>
#include <string>
#include <vector>

namespace lossdoctor::report {

enum class CauseGroup { Data, Network, Optimisation, TrainingLoop, NoFault };

/// What the confirmation changes in its rerun to remove a cause.
enum class Intervention {
  ApplyFix,     ///< rerun with the finding's fix (spec overrides; default_fix when none)
  DropFlagged,  ///< rerun without the training samples the run or the audit flagged
  Oversample,   ///< rerun with the rare classes repeated to the size of the largest
  None,         ///< no rerun: the spec cannot express the fix (training-loop code) or no fault
};

struct CauseInfo {
  std::string id;
  CauseGroup group;
  std::string explanation;  ///< why it raises the loss, two sentences
  /// Spec overrides that remove it when the finding brings none ("{lr/10}", "{lr*10}" are
  /// placeholders for the base learning rate).
  std::map<std::string, std::string> default_fix;
  Intervention intervention;
  std::string intervention_text;          ///< what the rerun changes, one line (empty for None)
  std::string fix_hint;                   ///< the fix in words, for every cause
  std::vector<std::string> lint_rules;    ///< lint rule ids that point at it
  std::vector<std::string> audit_checks;  ///< audit checks that point at it
};

/// Every cause, in design.md's order (data, network, optimisation, loop code, healthy).
const std::vector<CauseInfo>& cause_table();
const CauseInfo& cause_info(const std::string& id);
bool is_known_cause(const std::string& id);
std::string group_name(CauseGroup group);

std::map<std::string, std::string> default_fix(const std::string& id, double base_lr);

}  // namespace lossdoctor::report
