// The data-parallel cause rules (diagnose/rules/{same_data_on_every_rank,shard_not_reshuffled,
// replicas_diverged,rank_specific_data_fault,lr_not_scaled_for_global_batch}.cpp) and the
// straggler note (diagnose/ranks.hpp) on synthetic RunRecord::distributed series: each fires on
// its fault, stays silent on a healthy 2-rank record and on its near miss. No processes, no torch.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "diagnose/record_builder.hpp"
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/diagnose/ranks.hpp"
#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {
namespace {

using test::RecordBuilder;

struct Healthy {
  int64_t world = 2;
  int64_t steps_per_epoch = 40;
  bool same_data = false;     ///< every rank the same batch
  bool no_reshuffle = false;  ///< every epoch the same batches
  int64_t diverge_at = -1;    ///< rank 1's checksum differs from this step on
  int64_t bad_rank = -1;      ///< this rank's loss × `bad_factor`
  double bad_factor = 1.6;
  int64_t slow_rank = -1;  ///< this rank's compute time × 4
  bool hashes = true;
};

/// A healthy record (RecordBuilder) with the distributed block of a `world`-rank run: per-rank
/// losses scattered around the global loss, disjoint reshuffled batches, equal checksums.
RunRecord record(const Healthy& h) {
  RecordBuilder b;
  b.steps_per_epoch = h.steps_per_epoch;
  RunRecord r = b.build();
  std::mt19937_64 rng(7);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::uniform_int_distribution<int> label(0, 9);
  DistributedRecord d;
  d.world_size = h.world;
  d.global_batch_size = r.batch_size * h.world;
  d.steps_per_epoch = h.steps_per_epoch;
  for (const auto& s : r.steps) {
    DistributedStep ds;
    ds.step = s.step;
    ds.epoch = s.step / h.steps_per_epoch;
    ds.batch_index = s.step % h.steps_per_epoch;
    for (int64_t k = 0; k < h.world; ++k) {
      RankStep rs;
      const int64_t who = h.same_data ? 0 : k;
      rs.loss = h.same_data ? s.loss : s.loss * std::exp(0.1 * gauss(rng));
      if (k == h.bad_rank) rs.loss *= h.bad_factor;
      rs.grad_norm = 1.0 + 0.1 * gauss(rng);
      rs.seconds = (k == h.slow_rank ? 0.08 : 0.02) * (1 + 0.05 * gauss(rng));
      const int64_t epoch_key = h.no_reshuffle ? 0 : ds.epoch;
      if (h.hashes)
        rs.batch_hash = 1 + static_cast<uint64_t>((epoch_key * 1000 + ds.batch_index) * 16 + who);
      rs.label_histogram.assign(10, 0);
      for (int i = 0; i < 64; ++i) ++rs.label_histogram[static_cast<size_t>(label(rng))];
      ds.ranks.push_back(rs);
    }
    if (h.same_data) {
      for (auto& rs : ds.ranks) rs.label_histogram = ds.ranks.front().label_histogram;
    }
    d.steps.push_back(ds);
    if (s.step % r.probe_every == 0) {
      ChecksumSample c;
      c.step = s.step;
      c.ranks.assign(static_cast<size_t>(h.world), 123.456 + s.step);
      if (h.diverge_at >= 0 && s.step >= h.diverge_at) c.ranks[1] += 1e-3;
      d.checksums.push_back(c);
    }
  }
  r.distributed = d;
  return r;
}

Collector run_all(const RunRecord& r, const DiagnoserOptions& options = {},
                  std::vector<Symptom> symptoms = {}) {
  const RecordSignals sig = read_signals(r);
  const std::vector<Finding> none;
  const RuleContext ctx = make_rule_context(r, sig, symptoms, none, none, options);
  Collector out(options);
  rule_same_data_on_every_rank(ctx, out);
  rule_shard_not_reshuffled(ctx, out);
  rule_replicas_diverged(ctx, out);
  rule_rank_specific_data_fault(ctx, out);
  rule_lr_not_scaled_for_global_batch(ctx, out);
  out.apply_penalties();
  return out;
}

double confidence(const Collector& c, const std::string& cause) {
  const auto it = c.candidates().find(cause);
  return it == c.candidates().end() ? 0.0 : it->second.confidence();
}

const std::vector<std::string> kDistributedCauses = {
    "same_data_on_every_rank", "shard_not_reshuffled", "replicas_diverged",
    "rank_specific_data_fault", "lr_not_scaled_for_global_batch"};

TEST(DistributedRules, SilentOnAHealthyTwoRankRecordAndOnOneProcess) {
  const RunRecord r = record({});
  const Collector c = run_all(r);
  for (const auto& cause : kDistributedCauses) EXPECT_EQ(confidence(c, cause), 0.0) << cause;
  EXPECT_EQ(straggler_note(r), "");
  const Diagnosis d = diagnose(r, detect_symptoms(r), {});
  EXPECT_EQ(d.verdict, "healthy");
  RunRecord single = r;
  single.distributed.reset();
  const Collector s = run_all(single);
  for (const auto& cause : kDistributedCauses) EXPECT_EQ(confidence(s, cause), 0.0) << cause;
}

TEST(DistributedRules, SameDataOnEveryRank) {
  Healthy h;
  h.same_data = true;
  const Collector c = run_all(record(h));
  EXPECT_NEAR(confidence(c, "same_data_on_every_rank"), 0.9, 1e-9);
  // Without batch hashes: equal histograms and lock-step losses.
  h.hashes = false;
  EXPECT_NEAR(confidence(run_all(record(h)), "same_data_on_every_rank"), 0.7, 1e-9);
  // Near miss: equal label histograms alone (losses differ) are not lock-step.
  Healthy near;
  near.hashes = false;
  RunRecord r = record(near);
  for (auto& s : r.distributed->steps) s.ranks[1].label_histogram = s.ranks[0].label_histogram;
  EXPECT_EQ(confidence(run_all(r), "same_data_on_every_rank"), 0.0);
  // The options are read.
  DiagnoserOptions o;
  o.same_data_on_every_rank.same_batch_fraction = 1.0;
  h.hashes = true;
  EXPECT_EQ(confidence(run_all(record(h), o), "same_data_on_every_rank"), 0.0);
}

TEST(DistributedRules, ShardNotReshuffled) {
  Healthy h;
  h.no_reshuffle = true;
  const Collector c = run_all(record(h));
  EXPECT_NEAR(confidence(c, "shard_not_reshuffled"), 0.85, 1e-9);
  EXPECT_EQ(confidence(c, "same_data_on_every_rank"), 0.0);
  // With data.shuffle false (lint's unshuffled_data) the fix is to shuffle at all.
  {
    const RunRecord r = record(h);
    const RecordSignals sig = read_signals(r);
    Finding unshuffled;
    unshuffled.cause = "unshuffled_data";
    unshuffled.severity = "error";
    const std::vector<Finding> lint = {unshuffled}, none;
    const std::vector<Symptom> symptoms;
    const DiagnoserOptions options;
    const RuleContext ctx = make_rule_context(r, sig, symptoms, lint, none, options);
    Collector out(options);
    rule_shard_not_reshuffled(ctx, out);
    EXPECT_EQ(out.candidates().at("shard_not_reshuffled").fix.at("data.shuffle"), "true");
  }
  // Near miss: one epoch only (nothing to compare with).
  h.steps_per_epoch = 1000;
  EXPECT_EQ(confidence(run_all(record(h)), "shard_not_reshuffled"), 0.0);
}

TEST(DistributedRules, ReplicasDiverged) {
  Healthy h;
  h.diverge_at = 57;
  const Collector c = run_all(record(h));
  EXPECT_NEAR(confidence(c, "replicas_diverged"), 0.95, 1e-9);
  EXPECT_EQ(*c.candidates().at("replicas_diverged").first_step, 60);
  // Near miss: a difference below the tolerance (rounding) is not divergence.
  RunRecord r = record({});
  for (auto& s : r.distributed->checksums) s.ranks[1] *= 1 + 1e-12;
  EXPECT_EQ(confidence(run_all(r), "replicas_diverged"), 0.0);
}

TEST(DistributedRules, RankSpecificDataFault) {
  Healthy h;
  h.bad_rank = 1;
  const Collector c = run_all(record(h));
  EXPECT_GT(confidence(c, "rank_specific_data_fault"), 0.7);
  const auto lines = c.candidates().at("rank_specific_data_fault").ordered_evidence();
  EXPECT_NE(lines.front().find("rank 1"), std::string::npos) << lines.front();
  // Near miss: a rank only slightly above the others.
  h.bad_factor = 1.1;
  EXPECT_EQ(confidence(run_all(record(h)), "rank_specific_data_fault"), 0.0);
}

TEST(DistributedRules, LrNotScaledForGlobalBatch) {
  // Unscaled rate, tiny updates (sluggish), and stalled.
  RunRecord r = record({});
  Symptom plateau;
  plateau.id = "plateau_at_chance";
  plateau.step = 10;
  EXPECT_EQ(confidence(run_all(r, {}, {plateau}), "lr_not_scaled_for_global_batch"), 0.0)
      << "stalled with normal-sized updates: another cause";
  for (auto& p : r.probes)
    for (auto& l : p.layers)
      if (l.has_weights) l.update_ratio = 1e-5;
  EXPECT_NEAR(confidence(run_all(r), "lr_not_scaled_for_global_batch"), 0.45, 1e-9);
  EXPECT_NEAR(confidence(run_all(r, {}, {plateau}), "lr_not_scaled_for_global_batch"), 0.6, 1e-9);
  // Scaled ×2 with no warmup, diverging at step 30: the fix is the warmup.
  r.distributed->lr_scale = 2;
  r.distributed->lr_scaling = "linear";
  Symptom diverging;
  diverging.id = "diverging_loss";
  diverging.step = 30;
  const Collector c = run_all(r, {}, {diverging});
  EXPECT_NEAR(confidence(c, "lr_not_scaled_for_global_batch"), 0.75, 1e-9);
  EXPECT_EQ(c.candidates().at("lr_not_scaled_for_global_batch").fix.at("schedule.warmup_steps"),
            "100");
  // Near misses: with a warmup; a healthy run with an unscaled rate; one process.
  r.distributed->warmup_steps = 100;
  EXPECT_EQ(confidence(run_all(r, {}, {diverging}), "lr_not_scaled_for_global_batch"), 0.0);
  EXPECT_EQ(confidence(run_all(record({})), "lr_not_scaled_for_global_batch"), 0.0);
  RunRecord single = record({});
  single.distributed->world_size = 1;
  EXPECT_EQ(confidence(run_all(single, {}, {plateau}), "lr_not_scaled_for_global_batch"), 0.0);
}

TEST(DistributedRules, LrNotScaledForGlobalBatchShortfallAndOvershoot) {
  // Unscaled, a usual SGD rate, sluggish but not stalled, and N× the updates (1.5e-4 × 2) would
  // clear the sluggish line (2e-4): the missing factor is the whole shortfall.
  RunRecord r = record({});
  r.base_lr = 0.001;
  const auto set_ratios = [](RunRecord& rec, double ratio) {
    for (auto& p : rec.probes)
      for (auto& l : p.layers)
        if (l.has_weights) l.update_ratio = ratio;
  };
  set_ratios(r, 1.5e-4);
  Collector c = run_all(r);
  EXPECT_NEAR(confidence(c, "lr_not_scaled_for_global_batch"), 0.6, 1e-9);
  const auto& ev = c.candidates().at("lr_not_scaled_for_global_batch").ordered_evidence();
  ASSERT_FALSE(ev.empty());
  EXPECT_NE(ev.front().find("2× the rate"), std::string::npos) << ev.front();
  // Near misses: updates too small for N× to fix; a rate below the usual range (lr_too_low's).
  set_ratios(r, 5e-5);
  EXPECT_NEAR(confidence(run_all(r), "lr_not_scaled_for_global_batch"), 0.45, 1e-9);
  set_ratios(r, 1.5e-4);
  r.base_lr = 5e-4;
  EXPECT_NEAR(confidence(run_all(r), "lr_not_scaled_for_global_batch"), 0.45, 1e-9);

  // Scaled ×2 with no warmup and no unstable symptom, but the first probed step moved the
  // weights by 15% of their norm (above lr_too_high.first_update_ratio, 10%): overshot.
  RunRecord s = record({});
  s.distributed->lr_scale = 2;
  s.distributed->lr_scaling = "linear";
  for (auto& l : s.probes.front().layers)
    if (l.has_weights) l.update_ratio = 0.15;
  c = run_all(s);
  EXPECT_NEAR(confidence(c, "lr_not_scaled_for_global_batch"), 0.75, 1e-9);
  EXPECT_EQ(c.candidates().at("lr_not_scaled_for_global_batch").fix.at("schedule.warmup_steps"),
            "100");
  // Near misses: a first step of 5% (not an overshoot); the same overshoot with a warmup.
  for (auto& l : s.probes.front().layers)
    if (l.has_weights) l.update_ratio = 0.05;
  EXPECT_EQ(confidence(run_all(s), "lr_not_scaled_for_global_batch"), 0.0);
  for (auto& l : s.probes.front().layers)
    if (l.has_weights) l.update_ratio = 0.15;
  s.distributed->warmup_steps = 100;
  EXPECT_EQ(confidence(run_all(s), "lr_not_scaled_for_global_batch"), 0.0);
}

TEST(DistributedRules, StragglerIsANoteNotACause) {
  Healthy h;
  h.slow_rank = 1;
  const RunRecord r = record(h);
  const std::string note = straggler_note(r);
  EXPECT_NE(note.find("rank 1 is a straggler"), std::string::npos) << note;
  const Diagnosis d = diagnose(r, detect_symptoms(r), {});
  EXPECT_EQ(d.verdict, "healthy");
  EXPECT_NE(std::find(d.notes.begin(), d.notes.end(), note), d.notes.end());
  DiagnoserOptions o;
  o.straggler.time_ratio = 5;
  EXPECT_EQ(straggler_note(r, o), "");
}

TEST(DistributedRules, TopCauseOfTheDiagnosis) {
  Healthy h;
  h.same_data = true;
  RunRecord r = record(h);
  Diagnosis d = diagnose(r, detect_symptoms(r), {});
  ASSERT_FALSE(d.findings.empty());
  EXPECT_EQ(d.verdict, "unhealthy");
  EXPECT_EQ(d.findings.front().cause, "same_data_on_every_rank");
  h = {};
  h.diverge_at = 100;
  r = record(h);
  d = diagnose(r, detect_symptoms(r), {});
  ASSERT_FALSE(d.findings.empty());
  EXPECT_EQ(d.findings.front().cause, "replicas_diverged");
  EXPECT_EQ(d.findings.front().first_step, 100);
}

}  // namespace
}  // namespace lossdoctor::diagnose
