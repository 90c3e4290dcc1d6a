#pragma once
// Lint: faults visible in the spec alone, before any training (`lossdoctor lint SPEC`).
//
// Contract:
//   requires: a validated spec; `input_shape` {C, H, W} of one prepared image when known (the
//             CLI reads it from the data headers), used for shape rules such as pooling to 1×1.
//   ensures:  one Finding per problem, status "suspected", no first_step, severity error |
//             warning, each with evidence (the spec values and their locations), a two-sentence
//             explanation, and a fix as --set overrides that the spec parser accepts. Harmless
//             look-alikes (log_softmax before a from-logits loss) become notes, not findings.
//             Pure function: no I/O, no torch; < 1 ms.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::lint {

struct LintContext {
  std::optional<std::array<int64_t, 3>> input_shape;  ///< {C, H, W} after transforms
  int64_t num_classes = 10;
  /// Per-channel mean and standard deviation of the raw training pixels (empty: unknown).
  std::vector<double> pixel_mean, pixel_std;
  /// Ranks of the data-parallel run the spec is linted for (diagnose --nproc); 1: one process.
  int64_t world_size = 1;
};

struct LintResult {
  std::vector<Finding> findings;  ///< sorted: errors first, then warnings, by confidence
  std::vector<std::string> notes;
};

/// One rule: an id (kebab-case, e.g. "softmax-into-logits-loss"), the cause it points to, and
/// its check.
struct LintRule {
  std::string id;
  std::string cause;
  void (*check)(const spec::Spec&, const LintContext&, LintResult&);
};

const std::vector<LintRule>& lint_rules();

LintResult lint_spec(const spec::Spec& spec, const LintContext& context = {});

}  // namespace lossdoctor::lint
