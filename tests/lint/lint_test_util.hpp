#pragma once
// Helpers for the lint tests: build a spec from a YAML body, run one rule, apply a fix.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lossdoctor/lint/lint.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::lint::testing {

/// A healthy spec whose parts can be replaced: data, model layers, loss, optimizer...
struct SpecText {
  std::string data =
      "data:\n"
      "  format: idx\n"
      "  path: /usr/share/datasets/fashion-mnist\n"
      "  train: {limit: 12000}\n"
      "  shuffle: true\n"
      "  transforms:\n"
      "    train: [{scale: 0.00392156862745098}, {normalize: {mean: [0.286], std: [0.353]}}]\n";
  std::string init = "{weight: he_normal, bias: zeros}";
  std::string layers =
      "    - conv2d: {filters: 32, kernel: 3, padding: same}\n"
      "    - batchnorm: {}\n"
      "    - relu: {}\n"
      "    - maxpool: {size: 2}\n"
      "    - flatten: {}\n"
      "    - dense: {units: 10}\n";
  std::string loss = "{type: cross_entropy, from_logits: true}";
  std::string optimizer = "{type: adam, lr: 0.001}";
  std::string extra = "batch_size: 64\nepochs: 2\n";

  std::string yaml() const {
    return "name: t\n" + data + "model:\n  init: " + init + "\n  layers:\n" + layers +
           "loss: " + loss + "\noptimizer: " + optimizer + "\n" + extra;
  }
};

inline spec::Spec parse(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return spec::parse_spec_text(yaml, "test.yaml", overrides);
}

inline const LintRule& rule(const std::string& id) {
  for (const auto& r : lint_rules())
    if (r.id == id) return r;
  throw std::runtime_error("no lint rule " + id);
}

/// Findings of one rule on a spec.
inline LintResult run(const std::string& id, const spec::Spec& s, const LintContext& ctx = {}) {
  LintResult r;
  rule(id).check(s, ctx, r);
  return r;
}
inline LintResult run(const std::string& id, const std::string& yaml, const LintContext& ctx = {}) {
  return run(id, parse(yaml), ctx);
}

inline std::vector<std::string> overrides_of(const Finding& f) {
  std::vector<std::string> out;
  for (const auto& [k, v] : f.fix) out.push_back(k + "=" + v);
  return out;
}

/// Applies the finding's fix to `yaml` through the spec parser and reruns the rule.
inline LintResult run_fixed(const std::string& id, const std::string& yaml, const Finding& f,
                            const LintContext& ctx = {}) {
  return run(id, parse(yaml, overrides_of(f)), ctx);
}

inline std::string evidence_text(const Finding& f) {
  std::string out;
  for (const auto& e : f.evidence) out += e + " | ";
  return out;
}

inline const Finding* find(const LintResult& r, const std::string& cause) {
  for (const auto& f : r.findings)
    if (f.cause == cause) return &f;
  return nullptr;
}

/// Common checks on a finding: cause, severity, confidence band, status, explanation.
inline void expect_finding(const Finding& f, const std::string& cause,
                           const std::string& severity) {
  EXPECT_EQ(f.cause, cause);
  EXPECT_EQ(f.severity, severity);
  EXPECT_EQ(f.status, "suspected");
  EXPECT_FALSE(f.first_step.has_value());
  if (severity == "error") {
    EXPECT_GE(f.confidence, 0.85);
  } else if (severity == "warning") {
    EXPECT_NEAR(f.confidence, 0.6, 0.05);
  } else {
    EXPECT_EQ(severity, "info");
    EXPECT_NEAR(f.confidence, 0.35, 0.05);  // worth a test, not a fault on its own
  }
  EXPECT_FALSE(f.evidence.empty());
  EXPECT_FALSE(f.explanation.empty());
}

inline bool evidence_has(const Finding& f, const std::string& needle) {
  return evidence_text(f).find(needle) != std::string::npos;
}

}  // namespace lossdoctor::lint::testing

namespace lossdoctor::lint::testing {

/// The rule fires once on `yaml` with `cause`/`severity`, its evidence mentions every needle,
/// and applying its fix through the spec parser silences it. Returns the finding.
inline Finding expect_fires_and_fix_silences(const std::string& id, const std::string& yaml,
                                             const std::string& cause, const std::string& severity,
                                             const std::vector<std::string>& needles,
                                             const LintContext& ctx = {}) {
  LintResult r = run(id, yaml, ctx);
  EXPECT_EQ(r.findings.size(), 1u) << id;
  if (r.findings.empty()) return {};
  const Finding f = r.findings.front();
  expect_finding(f, cause, severity);
  for (const auto& n : needles)
    EXPECT_TRUE(evidence_has(f, n)) << n << " not in " << evidence_text(f);
  EXPECT_FALSE(f.fix.empty()) << id;
  LintResult fixed;
  EXPECT_NO_THROW(fixed = run_fixed(id, yaml, f, ctx)) << id;
  EXPECT_TRUE(fixed.findings.empty())
      << id << " still fires after its fix: "
      << (fixed.findings.empty() ? "" : evidence_text(fixed.findings[0]));
  return f;
}

inline void expect_silent(const std::string& id, const std::string& yaml,
                          const LintContext& ctx = {}) {
  LintResult r = run(id, yaml, ctx);
  EXPECT_TRUE(r.findings.empty()) << id << " fired: "
                                  << (r.findings.empty() ? "" : evidence_text(r.findings[0]));
}

}  // namespace lossdoctor::lint::testing
