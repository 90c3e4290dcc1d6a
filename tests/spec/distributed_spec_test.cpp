// The spec keys of data-parallel runs (docs/distributed.md): data.inject.distributed (faults only
// a data-parallel run can have) and optimizer.lr_scaling, with their defaults, overrides and the
// one-line errors naming file, line and key.
#include <gtest/gtest.h>

#include <string>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::spec {
namespace {

const std::string kModel = "model: {layers: [relu]}\n";

Spec parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_spec_text(kModel + text, "cfg/ddp.yaml", overrides);
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const SpecError& e) {
    return e.what();
  }
  return "no error";
}

std::string parse_error(const std::string& text) {
  try {
    parse_spec_text(text, "cfg/ddp.yaml");
  } catch (const SpecError& e) {
    return e.what();
  }
  return "no error";
}

TEST(DistributedSpec, DefaultsInjectNothingAndKeepTheRate) {
  const Spec s = parse("");
  const DistributedInjectSpec& d = s.data.inject.distributed;
  EXPECT_FALSE(d.any());
  EXPECT_FALSE(s.data.inject.any());
  EXPECT_EQ(d.skip_update_on_rank, -1);
  EXPECT_EQ(d.corrupt_rank, -1);
  EXPECT_EQ(d.slow_rank, -1);
  EXPECT_EQ(s.optimizer.lr_scaling, OptimizerSpec::LrScaling::None);
  EXPECT_EQ(lr_scaling_name(s.optimizer.lr_scaling), "none");
}

TEST(DistributedSpec, EveryKeyParses) {
  const Spec s = parse(
      "data:\n"
      "  inject:\n"
      "    distributed: {same_data_on_every_rank: true, no_reshuffle: true,\n"
      "                  skip_update_on_rank: 1, skip_update_step: 7, corrupt_rank: 1,\n"
      "                  corrupt_rank_labels: 0.3, corrupt_rank_images: 0.2, slow_rank: 0,\n"
      "                  slow_rank_ms: 25}\n"
      "optimizer: {type: sgd, lr: 0.1, lr_scaling: sqrt}\n");
  const DistributedInjectSpec& d = s.data.inject.distributed;
  EXPECT_TRUE(d.same_data_on_every_rank);
  EXPECT_TRUE(d.no_reshuffle);
  EXPECT_EQ(d.skip_update_on_rank, 1);
  EXPECT_EQ(d.skip_update_step, 7);
  EXPECT_EQ(d.corrupt_rank, 1);
  EXPECT_DOUBLE_EQ(d.corrupt_rank_labels, 0.3);
  EXPECT_DOUBLE_EQ(d.corrupt_rank_images, 0.2);
  EXPECT_EQ(d.slow_rank, 0);
  EXPECT_EQ(d.slow_rank_ms, 25);
  EXPECT_TRUE(s.data.inject.any());
  EXPECT_EQ(s.optimizer.lr_scaling, OptimizerSpec::LrScaling::Sqrt);
  // Overrides reach them too, and -1 turns a rank fault off (the causes' default fixes).
  const Spec o = parse("optimizer: {type: adam}\n",
                       {"data.inject.distributed.corrupt_rank=1", "optimizer.lr_scaling=linear"});
  EXPECT_EQ(o.data.inject.distributed.corrupt_rank, 1);
  EXPECT_EQ(o.optimizer.lr_scaling, OptimizerSpec::LrScaling::Linear);
  EXPECT_EQ(parse("data: {inject: {distributed: {corrupt_rank: 1}}}\n",
                  {"data.inject.distributed.corrupt_rank=-1"})
                .data.inject.distributed.corrupt_rank,
            -1);
}

TEST(DistributedSpec, BadKeysAndValuesNameTheirPlace) {
  EXPECT_EQ(error_of("data: {inject: {distributed: {no_reshufle: true}}}\n"),
            "cfg/ddp.yaml:2:31: data.inject.distributed: unknown key 'no_reshufle' (did you "
            "mean 'no_reshuffle'?)");
  EXPECT_NE(
      error_of("data: {inject: {distributed: {corrupt_rank: -2}}}\n")
          .find("cfg/ddp.yaml:2:45: data.inject.distributed.corrupt_rank: must be >= -1, got -2"),
      std::string::npos)
      << error_of("data: {inject: {distributed: {corrupt_rank: -2}}}\n");
  EXPECT_NE(error_of("data: {inject: {distributed: {corrupt_rank_labels: 1.5}}}\n")
                .find("data.inject.distributed.corrupt_rank_labels: must be in [0, 1]"),
            std::string::npos)
      << error_of("data: {inject: {distributed: {corrupt_rank_labels: 1.5}}}\n");
  EXPECT_NE(error_of("data: {inject: {distributed: {no_reshuffle: maybe}}}\n")
                .find("data.inject.distributed.no_reshuffle"),
            std::string::npos);
  EXPECT_NE(error_of("optimizer: {lr_scaling: cubic}\n").find("optimizer.lr_scaling"),
            std::string::npos)
      << error_of("optimizer: {lr_scaling: cubic}\n");
}

TEST(DistributedSpec, SyncBatchnormParsesAndAWrongTypeNamesItsPlace) {
  EXPECT_FALSE(parse("").sync_batchnorm);
  const std::string synced = "model:\n  layers: [relu]\n  sync_batchnorm: true\n";
  const Spec s = parse_spec_text(synced, "cfg/ddp.yaml");
  EXPECT_TRUE(s.sync_batchnorm);
  // The resolved spec (the run directory's spec.yaml) keeps it.
  EXPECT_TRUE(parse_spec_text(s.resolved_yaml, "cfg/again.yaml").sync_batchnorm);
  EXPECT_FALSE(
      parse_spec_text(synced, "cfg/ddp.yaml", {"model.sync_batchnorm=false"}).sync_batchnorm);
  EXPECT_TRUE(parse("", {"model.sync_batchnorm=true"}).sync_batchnorm);
  try {
    parse_spec_text("model:\n  layers: [relu]\n  sync_batchnorm: maybe\n", "cfg/ddp.yaml");
    ADD_FAILURE() << "no error";
  } catch (const SpecError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cfg/ddp.yaml:3:19: model.sync_batchnorm: expected a boolean (true or false), got "
              "'maybe'")
        << e.what();
  }
  EXPECT_NE(error_of("", {"model.sync_batchnorm=[1]"}).find("model.sync_batchnorm"),
            std::string::npos)
      << error_of("", {"model.sync_batchnorm=[1]"});
  EXPECT_NE(parse_error("model:\n  layers: [relu]\n  sync_batchnorms: true\n")
                .find("unknown key 'sync_batchnorms' (did you mean 'sync_batchnorm'?)"),
            std::string::npos)
      << parse_error("model:\n  layers: [relu]\n  sync_batchnorms: true\n");
}

}  // namespace
}  // namespace lossdoctor::spec
