// corrupt_samples: broken images in the training data.
//
// Evidence: the first non-finite value of the run is in the input batch (weight
// `corrupt_samples.nan_in_input`; the finding's first step is that step); more than
// `odd_input_fraction` of the training images look corrupt — NaN, constant or pure noise
// (weight `odd_input_weight_per_fraction` × that share, at most `odd_input_max_weight`).
// A noise-like image counts only as far as the model fails to predict noise-like images at first
// sight compared with the clean ones (`noise_like_harder_margin`, `clean_above_chance_z`):
// data that merely looks noisy still carries its labels; corruption does not.
// When more than `noise_like_data_share` of the validation images look like noise (of the
// training images looked at, for a record without both splits' shares), noise is the data's
// nature and none counts; and no larger share counts than the training split has more
// noise-like images than validation (RunRecord::noise_like_shares, less `noise_like_excess_z`
// standard errors): corruption does not reach the validation split.
// Penalties: the images the data audit flagged (not broken ones) are predicted at first sight
// about as well as the rest, so they carry their labels (`flagged_predictable_penalty`; judged like
// noise-like images, and only when no image was broken and no NaN came in with the data). (A NaN
// that came in with the data counts against lr_too_high, in its rule.)
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lossdoctor/diagnose/rules/rules.hpp"

namespace lossdoctor::diagnose {

bool nan_entered_with_input(const RuleContext& ctx) {
  return ctx.record.first_nonfinite && ctx.record.first_nonfinite->layer == "input";
}

namespace {

/// Share of the audit-flagged images that carry no label, against the unflagged ones (see
/// unlabelled_share); not judged when a flagged image is broken (the audit is right about it).
UnlabelledShare flagged_unlabelled_share(const RuleContext& ctx, FirstSight& flagged,
                                         FirstSight& rest) {
  const RunRecord& r = ctx.record;
  std::vector<char> is_flagged(r.samples.size(), 0);
  for (const auto& f : ctx.audit) {
    if (f.cause != "corrupt_samples") continue;
    for (int64_t i : f.samples)
      if (i >= 0 && static_cast<size_t>(i) < is_flagged.size())
        is_flagged[static_cast<size_t>(i)] = 1;
  }
  bool flagged_broken = false;
  for (size_t i = 0; i < r.samples.size(); ++i) {
    const SampleDynamics& d = r.samples[i];
    if (is_flagged[i]) flagged_broken = flagged_broken || d.look == SampleDynamics::kBroken;
    (is_flagged[i] ? flagged : rest).add(d);
  }
  if (flagged_broken || r.num_classes <= 0) return {};
  return unlabelled_share(rest, flagged, 1.0 / static_cast<double>(r.num_classes),
                          ctx.options.corrupt_samples);
}

}  // namespace

void rule_corrupt_samples(const RuleContext& ctx, Collector& out) {
  const auto& o = ctx.options.corrupt_samples;
  const RecordSignals& sig = ctx.signals;
  if (nan_entered_with_input(ctx)) {
    Candidate& c = out.evidence("corrupt_samples");
    const int64_t step = ctx.record.first_nonfinite->step;
    c.add(o.nan_in_input, fmt::format("the first NaN/Inf is in the input batch at step {}", step));
    c.first_step = step;
  }
  const CorruptShare share = corrupt_share(sig, o);
  if (share.share > o.odd_input_fraction) {
    Candidate& c = out.evidence("corrupt_samples");
    c.add(std::min(o.odd_input_max_weight, o.odd_input_weight_per_fraction * share.share),
          fmt::format("{:.1f}% {}", 100 * share.share, kCorruptImagesSeen));
    if (!share.how.empty()) c.note(0, share.how);
  }
  FirstSight flagged, rest;
  const UnlabelledShare unlabelled = flagged_unlabelled_share(ctx, flagged, rest);
  if (unlabelled.judged &&
      unlabelled.estimate + unlabelled.standard_error < o.noise_like_harder_margin &&
      !nan_entered_with_input(ctx)) {
    out.penalise("corrupt_samples", o.flagged_predictable_penalty,
                 fmt::format("the model predicted {:.0f}% of the {} flagged images right at first "
                             "sight vs {:.0f}% of the others: they carry their labels",
                             100 * flagged.accuracy(), flagged.judged, 100 * rest.accuracy()));
  }
}

UnlabelledShare unlabelled_share(const FirstSight& reference, const FirstSight& group,
                                 double chance, const DiagnoserOptions::CorruptSamples& o) {
  UnlabelledShare u;
  const double a = reference.accuracy(), b = group.accuracy(), c = chance;
  if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(c)) return u;
  const double se_a = std::sqrt(a * (1 - a) / static_cast<double>(reference.judged));
  const double se_b = std::sqrt(b * (1 - b) / static_cast<double>(group.judged));
  const double above = a - c;
  if (!(above > 0) || above < o.clean_above_chance_z * se_a) return u;
  u.judged = true;
  u.estimate = (a - b) / above;
  // d/da = (b − c) / (a − c)², d/db = −1 / (a − c).
  u.standard_error = std::hypot(se_a * (b - c) / (above * above), se_b / above);
  return u;
}

bool noise_is_the_datas_nature(const std::optional<NoiseLikeShares>& shares, double train_share,
                               const DiagnoserOptions::CorruptSamples& o) {
  // Corruption reaches the training split only: validation shows what the data looks like.
  return (shares ? shares->val : train_share) > o.noise_like_data_share;
}

double noise_like_excess(const NoiseLikeShares& shares, const DiagnoserOptions::CorruptSamples& o) {
  return std::max(0.0, shares.train - shares.val - o.noise_like_excess_z * shares.standard_error);
}

CorruptShare corrupt_share(const RecordSignals& sig, const DiagnoserOptions::CorruptSamples& o) {
  const RecordSignals::ImageLooks& lk = sig.looks;
  if (lk.checked == 0) {  // no image was looked at one by one: the probes' batch share
    return {sig.odd_input_fraction > o.noise_like_data_share ? 0.0 : sig.odd_input_fraction, ""};
  }
  const double n = static_cast<double>(lk.checked);
  // Among the images with content: broken ones say nothing of what the data looks like (zoo 2's
  // textures with 30% blank images: 57% of all, 81% of the rest look like noise).
  const double with_content = n - static_cast<double>(lk.broken);
  if (with_content > 0 &&
      noise_is_the_datas_nature(lk.split_shares, static_cast<double>(lk.noise_like) / with_content,
                                o)) {
    return {static_cast<double>(lk.broken) / n,
            lk.split_shares
                ? fmt::format("{:.1f}% of the validation images look like noise: that is what "
                              "this data looks like, so none of the training images that do "
                              "counts as corrupt",
                              100 * lk.split_shares->val)
                : fmt::format("{:.1f}% of the {} images checked that are not broken look like "
                              "noise: that is what this data looks like, so none of them counts "
                              "as corrupt",
                              100 * static_cast<double>(lk.noise_like) / with_content,
                              static_cast<int64_t>(with_content))};
  }
  // Share of the noise-like images that count as corrupt: none until the model predicts clean
  // images well enough to tell (an untrained model predicts neither); of the share that carries
  // no label, its lower bound above the margin counts.
  double counted = 0;
  std::string how;
  const double a = lk.clean_first.accuracy(), b = lk.noise_like_first.accuracy(), c = lk.chance;
  const UnlabelledShare u = lk.noise_like > 0
                                ? unlabelled_share(lk.clean_first, lk.noise_like_first, c, o)
                                : UnlabelledShare{};
  if (u.judged) {
    const double lower = std::min(1.0, u.estimate - u.standard_error);
    counted =
        std::max(0.0, (lower - o.noise_like_harder_margin) / (1.0 - o.noise_like_harder_margin));
    how = fmt::format(
        "{:.1f}% of the {} images checked look like noise; at first sight the model predicted "
        "{:.0f}% of them right vs {:.0f}% of the clean ones (chance {:.0f}%), so {:.0f}% of them "
        "count as corrupt",
        100 * static_cast<double>(lk.noise_like) / n, lk.checked, 100 * b, 100 * a, 100 * c,
        100 * counted);
  }
  if (counted > 0 && lk.split_shares && lk.noise_like > 0) {
    const NoiseLikeShares& sh = *lk.split_shares;
    const double excess = noise_like_excess(sh, o);
    const double most = std::min(1.0, excess * with_content / static_cast<double>(lk.noise_like));
    if (most < counted) {
      counted = most;
      how += fmt::format(
          "; but the data set's training split holds {:.1f}% noise-like images against "
          "validation's {:.1f}% (class-balanced, standard error {:.1f} points), so at most {:.0f}% "
          "of them can be corruption",
          100 * sh.train, 100 * sh.val, 100 * sh.standard_error, 100 * counted);
    }
  }
  return {(static_cast<double>(lk.broken) + counted * static_cast<double>(lk.noise_like)) / n, how,
          counted};
}

}  // namespace lossdoctor::diagnose
