// Causes the spec rules out (pure: parsed specs, no training).

#include "lossdoctor/experiment/ruled_out.hpp"

#include <gtest/gtest.h>

#include "experiment/tiny_spec.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::experiment {
namespace {

spec::Spec parse(const std::vector<std::string>& sets = {}) {
  return spec::parse_spec_text(test::tiny_spec("{type: sgd, lr: 0.01}"), "tiny.yaml", sets);
}

Finding finding(const std::string& cause, std::vector<std::string> evidence = {}) {
  Finding f;
  f.cause = cause;
  f.evidence = std::move(evidence);
  return f;
}

TEST(RuledOutBySpec, CausesASpecRunCannotHave) {
  const spec::Spec s = parse();
  EXPECT_TRUE(ruled_out_by_spec(s, finding("params_not_updated")));
  EXPECT_TRUE(ruled_out_by_spec(s, finding("loss_output_mismatch", {"loss 2.3 at chance"})));
  EXPECT_TRUE(ruled_out_by_spec(s, finding("grad_clip_too_tight")));
  EXPECT_TRUE(ruled_out_by_spec(s, finding("excessive_regularization")));
  EXPECT_TRUE(ruled_out_by_spec(s, finding("bad_lr_schedule")));
  const auto why = ruled_out_by_spec(s, finding("grad_clip_too_tight"));
  EXPECT_NE(why->find("does not clip"), std::string::npos) << *why;
}

TEST(RuledOutBySpec, NearMissesTheSpecAllows) {
  // Lint's finding among the evidence: the loss really does not fit.
  EXPECT_FALSE(ruled_out_by_spec(
      parse(), finding("loss_output_mismatch", {"spec: softmax output into cross_entropy"})));
  EXPECT_FALSE(ruled_out_by_spec(parse({"clip_grad_norm=0.01"}), finding("grad_clip_too_tight")));
  EXPECT_FALSE(ruled_out_by_spec(parse({"optimizer.weight_decay=0.5"}),
                                 finding("excessive_regularization")));
  EXPECT_FALSE(
      ruled_out_by_spec(parse({"loss.label_smoothing=0.3"}), finding("excessive_regularization")));
  EXPECT_FALSE(ruled_out_by_spec(parse({"model.layers[5]={dropout: {rate: 0.9}}"}),
                                 finding("excessive_regularization")));
  EXPECT_FALSE(ruled_out_by_spec(parse({"schedule={type: cosine}"}), finding("bad_lr_schedule")));
  EXPECT_FALSE(
      ruled_out_by_spec(parse({"schedule={warmup_steps: 500}"}), finding("bad_lr_schedule")));
  // Causes that any spec can have are never ruled out.
  for (const char* c : {"lr_too_low", "lr_too_high", "label_noise", "insufficient_capacity",
                        "optimizer_misconfigured", "bad_init_scale"})
    EXPECT_FALSE(ruled_out_by_spec(parse(), finding(c))) << c;
}

}  // namespace
}  // namespace lossdoctor::experiment
