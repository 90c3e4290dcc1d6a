#include "lossdoctor/audit/label_agreement.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "lossdoctor/audit/small_cnn.hpp"
#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/data/pipeline.hpp"

namespace lossdoctor::audit {
namespace {

/// Noise-like images are corruption (left out of both splits) when the training split's share of
/// them exceeds validation's by more than kNoiseLikeSlack and kNoiseLikeZ standard errors;
/// otherwise noise is what this data looks like (held-out zoo 5's s5 textures: 30% noise-like in
/// each split; its hard-s5-corrupt-noise-10 adds 7 points to the training split's share only).
constexpr double kNoiseLikeSlack = 0.02;
constexpr double kNoiseLikeZ = 3.0;
/// Noise-like images are compared too (when not corruption) only when fewer than this share of
/// the training split looks clean, or validation has too few clean images to fit to.
constexpr double kMinCleanTrainShare = 0.25;
/// Images are averaged down to at most this many pixels a side before the models see them.
constexpr int64_t kMaxSide = 32;

/// Class-balanced agreement of the argmax of `probs` [n, K] with `labels` [n], and the standard
/// error of that mean of per-class binomial shares.
struct Balanced {
  double agreement = 0;
  double standard_error = 0;
  double confidence = 0;  ///< mean top probability
};

Balanced balanced_agreement(const at::Tensor& probs, const at::Tensor& labels, int64_t K) {
  Balanced out;
  const int64_t n = probs.size(0);
  if (n == 0) return out;
  const auto top = probs.max(1);
  const at::Tensor pred = std::get<1>(top).contiguous();
  out.confidence = std::get<0>(top).to(at::kDouble).mean().item<double>();
  const auto* p = pred.data_ptr<int64_t>();
  const auto* y = labels.data_ptr<int64_t>();
  std::vector<int64_t> seen(static_cast<size_t>(K), 0), agreed(static_cast<size_t>(K), 0);
  for (int64_t s = 0; s < n; ++s) {
    ++seen[static_cast<size_t>(y[s])];
    agreed[static_cast<size_t>(y[s])] += p[s] == y[s] ? 1 : 0;
  }
  double sum = 0, var = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < K; ++c) {
    const auto i = static_cast<size_t>(c);
    if (seen[i] == 0) continue;
    const double a = static_cast<double>(agreed[i]) / static_cast<double>(seen[i]);
    sum += a;
    // At least one disagreement's worth of variance: a class the model gets all right is still
    // a finite sample.
    var += std::max(a * (1 - a), 1.0 / static_cast<double>(seen[i])) / static_cast<double>(seen[i]);
    ++classes;
  }
  out.agreement = sum / static_cast<double>(classes);
  out.standard_error = std::sqrt(var) / static_cast<double>(classes);
  return out;
}

/// The first `limit` of `positions` after a seeded shuffle (all of them, shuffled, below it).
std::vector<int64_t> seeded_subset(std::vector<int64_t> positions, int64_t limit, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::shuffle(positions.begin(), positions.end(), rng);
  if (static_cast<int64_t>(positions.size()) > limit) positions.resize(static_cast<size_t>(limit));
  return positions;
}

at::Tensor as_index(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

/// The bars of AgreementOptions: the models learned, the gap is significant and large enough.
bool clears_bars(const LabelAgreement& a, const AgreementOptions& o) {
  if (!a.measured || a.num_classes < 2) return false;
  return a.learned_z() >= o.min_learned_z && a.z() >= o.min_z && a.estimated_noise >= o.min_noise;
}

}  // namespace

LabelAgreement measure_label_agreement(const data::Dataset& ds, const spec::DataSpec& spec,
                                       const AgreementOptions& o,
                                       const data::SplitImageKinds* kinds) {
  for (const data::Split* s : {&ds.train, &ds.val}) {
    if (s->size() > 0 && (!s->images.defined() || s->images.dim() != 4)) {
      throw std::invalid_argument("label agreement: images must be 4-D [N, C, H, W]");
    }
  }
  if (o.folds < 2) throw std::invalid_argument("label agreement: folds must be >= 2");
  LabelAgreement out;
  const int64_t K = ds.num_classes;
  out.num_classes = K;
  const int64_t nv = ds.val.size();
  if (K < 2) {
    out.skipped = "fewer than two classes";
    return out;
  }
  if (ds.train.size() == 0) {
    out.skipped = "no training images";
    return out;
  }
  if (static_cast<double>(std::min(nv, o.max_val_images)) <
      o.min_val_per_class * static_cast<double>(K)) {
    out.skipped = fmt::format("{} validation images: fewer than {:g} per class to fit a model to",
                              nv, o.min_val_per_class);
    return out;
  }
  if (ds.train.images.size(2) < 4 || ds.train.images.size(3) < 4) {
    out.skipped = "images smaller than 4×4";
    return out;
  }

  // Images that look broken always, and noise-like ones when the training split has significantly
  // more of them than validation (then they are corruption, not what the data looks like), are the
  // corrupt_samples checks' business: left out, and out of the standardising moments too (45%
  // blank images shift the training split's mean and std and made every clean image look
  // different from validation's).
  const at::Tensor train_kinds =
      (kinds != nullptr ? kinds->train : data::odd_image_kinds(ds.train.images)).contiguous();
  const at::Tensor val_kinds =
      (kinds != nullptr ? kinds->val : data::odd_image_kinds(ds.val.images)).contiguous();
  struct Share {
    double p = 0, n = 0;  ///< share of noise-like images among those with content, and their count
  };
  const auto share_noise_like = [](const at::Tensor& kinds) {
    Share sh;
    sh.n = static_cast<double>(kinds.numel()) - kinds.eq(data::kBrokenImage).sum().item<double>();
    if (sh.n > 0) sh.p = kinds.eq(data::kNoiseLikeImage).sum().item<double>() / sh.n;
    return sh;
  };
  const Share tn = share_noise_like(train_kinds), vn = share_noise_like(val_kinds);
  const double noise_se = std::sqrt((tn.n > 0 ? tn.p * (1 - tn.p) / tn.n : 0) +
                                    (vn.n > 0 ? vn.p * (1 - vn.p) / vn.n : 0));
  const bool noise_is_corruption = tn.p - vn.p > std::max(kNoiseLikeSlack, kNoiseLikeZ * noise_se);
  out.train_noise_like = tn.p;
  out.val_noise_like = vn.p;
  // Noise-like images that are the data's nature still hide a few injected ones (held-out zoo 5's
  // hard-s5-corrupt-noise-10: 37% vs 33%, within the standard error, and read as 11% label
  // noise): with enough clean-looking images in both splits, only those are compared.
  const auto clean_count = [](const at::Tensor& kinds) {
    return static_cast<double>(kinds.eq(data::kCleanImage).sum().item<int64_t>());
  };
  const bool enough_clean =
      clean_count(val_kinds) >= o.min_val_per_class * static_cast<double>(K) &&
      clean_count(train_kinds) >= kMinCleanTrainShare * static_cast<double>(ds.train.size());
  const auto keep = [&](int8_t kind) {
    return kind == data::kCleanImage ||
           (kind == data::kNoiseLikeImage && !noise_is_corruption && !enough_clean);
  };

  const at::Tensor yv_all = ds.val.labels.to(at::kLong).contiguous();
  const at::Tensor yt_all = ds.train.labels.to(at::kLong).contiguous();
  const auto* tk = train_kinds.data_ptr<int8_t>();
  const auto* vk = val_kinds.data_ptr<int8_t>();
  const auto* ytp = yt_all.data_ptr<int64_t>();
  const auto* yvp = yv_all.data_ptr<int64_t>();
  std::vector<int64_t> train_pos;
  for (int64_t s = 0; s < ds.train.size(); ++s) {
    if (!keep(tk[s])) {
      ++out.left_out_odd;
    } else if (ytp[s] >= 0 && ytp[s] < K) {
      train_pos.push_back(s);
    }
  }
  std::vector<int64_t> val_pos;
  for (int64_t s = 0; s < nv; ++s)
    if (keep(vk[s]) && yvp[s] >= 0 && yvp[s] < K) val_pos.push_back(s);
  val_pos = seeded_subset(val_pos, o.max_val_images, o.seed ^ 0x76616cULL);  // "val"
  train_pos = seeded_subset(train_pos, o.max_train_images, o.seed ^ 0x747261696eULL);
  // The agreement is measured on the first estimate_images of that shuffled order; the rest are
  // scored only when the finding is raised (for its suspects): asking two models about 30 000
  // training images doubled the cost of a clean check on the README's Fashion-MNIST example.
  std::vector<int64_t> rest_pos;
  if (static_cast<int64_t>(train_pos.size()) > o.estimate_images) {
    rest_pos.assign(train_pos.begin() + o.estimate_images, train_pos.end());
    train_pos.resize(static_cast<size_t>(o.estimate_images));
    std::sort(rest_pos.begin(), rest_pos.end());
  }
  std::sort(train_pos.begin(), train_pos.end());
  if (train_pos.empty()) {
    out.skipped = "no clean training image";
    return out;
  }
  if (static_cast<double>(val_pos.size()) < o.min_val_per_class * static_cast<double>(K)) {
    out.skipped =
        fmt::format("{} clean validation images: fewer than {:g} per class to fit a model to",
                    val_pos.size(), o.min_val_per_class);
    return out;
  }

  // The same deterministic preparation for both splits, each standardised on its own kept images.
  const data::Pipeline prepare = data::make_train_pipeline(spec);
  const auto prepared = [&](const data::Split& split, const std::vector<int64_t>& pos) {
    at::Tensor x = prepare.prepare(split.images.index_select(0, as_index(pos))).to(at::kFloat);
    // Large images are averaged down: the check's cost stays that of 32×32 images (a 224×224
    // data set would otherwise cost minutes), and a label is about what the image shows.
    if (x.size(2) > kMaxSide || x.size(3) > kMaxSide) {
      x = at::adaptive_avg_pool2d(
          at::nan_to_num(x, 0.0, 0.0, 0.0),
          {std::min<int64_t>(x.size(2), kMaxSide), std::min<int64_t>(x.size(3), kMaxSide)});
    }
    return data::standardise_channels(x);
  };

  // Stratified folds over the (shuffled) validation subset.
  const int64_t n = static_cast<int64_t>(val_pos.size());
  const at::Tensor xv = prepared(ds.val, val_pos);
  const at::Tensor yv = yv_all.index_select(0, as_index(val_pos)).contiguous();
  const at::Tensor xt = prepared(ds.train, train_pos);
  const at::Tensor yt = yt_all.index_select(0, as_index(train_pos)).contiguous();
  std::vector<int> fold_of(static_cast<size_t>(n));
  {
    std::vector<int64_t> dealt(static_cast<size_t>(K), 0);
    const auto* y = yv.data_ptr<int64_t>();
    for (int64_t s = 0; s < n; ++s)
      fold_of[static_cast<size_t>(s)] =
          static_cast<int>(dealt[static_cast<size_t>(y[s])]++ % o.folds);
  }

  at::Tensor val_probs = torch::zeros({n, K}, torch::kFloat);
  at::Tensor train_probs = torch::zeros({xt.size(0), K}, torch::kFloat);
  double train_agreement = 0, train_var = 0, train_confidence = 0;
  std::vector<torch::nn::Sequential> nets;
  for (int f = 0; f < o.folds; ++f) {
    std::vector<int64_t> fit_idx, held_idx;
    for (int64_t s = 0; s < n; ++s)
      (fold_of[static_cast<size_t>(s)] == f ? held_idx : fit_idx).push_back(s);
    if (fit_idx.empty() || held_idx.empty()) {
      out.skipped = "a validation fold is empty";
      return out;
    }
    SmallFit fit;
    fit.batch_size = o.batch_size;
    fit.lr = o.lr;
    const auto steps_per_epoch = static_cast<int64_t>(
        (static_cast<int64_t>(fit_idx.size()) + o.batch_size - 1) / o.batch_size);
    fit.epochs = static_cast<int>(std::clamp<int64_t>(
        (o.min_steps + steps_per_epoch - 1) / steps_per_epoch, 1, o.max_epochs));
    fit.init_seed = o.seed * 1000003ULL + 104729ULL * static_cast<uint64_t>(f + 1);
    fit.shuffle_seed =
        (o.seed + 15485863ULL) ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(f + 1));
    const at::Tensor fi = as_index(fit_idx);
    auto net = fit_small_cnn(xv.index_select(0, fi), yv.index_select(0, fi), K, fit);
    const at::Tensor hi = as_index(held_idx);
    val_probs.index_copy_(0, hi, predict_probs(net, xv.index_select(0, hi)));
    const at::Tensor tp = predict_probs(net, xt);
    const Balanced b = balanced_agreement(tp, yt, K);
    train_agreement += b.agreement / o.folds;
    train_var += b.standard_error * b.standard_error / o.folds;
    train_confidence += b.confidence / o.folds;
    train_probs += tp / static_cast<double>(o.folds);
    nets.push_back(net);
  }
  const Balanced v = balanced_agreement(val_probs, yv, K);
  out.measured = true;
  out.val_images = n;
  out.train_images = xt.size(0);
  out.val_agreement = v.agreement;
  out.val_confidence = v.confidence;
  out.train_agreement = train_agreement;
  out.train_confidence = train_confidence;
  out.standard_error = std::sqrt(v.standard_error * v.standard_error + train_var);
  out.val_standard_error = v.standard_error;
  // Uniform flips at rate p: training agreement = a(1 − p) + (1 − a) p / (K − 1), so
  // p = (a − t)(K − 1) / (aK − 1).
  const double Kd = static_cast<double>(K);
  const double denom = v.agreement * Kd - 1;
  out.estimated_noise =
      denom > 0 ? std::clamp((v.agreement - train_agreement) * (Kd - 1) / denom, 0.0, 1.0) : 0.0;

  // Flagged: every training image is asked, so that the suspects cover the whole split.
  at::Tensor scored_labels = yt;
  if (!rest_pos.empty() && clears_bars(out, o)) {
    const at::Tensor xr = prepared(ds.train, rest_pos);
    at::Tensor rest_probs = torch::zeros({xr.size(0), K}, torch::kFloat);
    for (auto& net : nets) rest_probs += predict_probs(net, xr) / static_cast<double>(o.folds);
    train_probs = torch::cat({train_probs, rest_probs}, 0);
    scored_labels = torch::cat({yt, yt_all.index_select(0, as_index(rest_pos))}, 0).contiguous();
    train_pos.insert(train_pos.end(), rest_pos.begin(), rest_pos.end());
  }

  // Suspects: the averaged models give the label less than chance and prefer another class.
  const auto top = train_probs.max(1);
  const at::Tensor given =
      train_probs.gather(1, scored_labels.view({-1, 1})).view({-1}).contiguous();
  const at::Tensor best = std::get<0>(top).contiguous();
  const at::Tensor arg = std::get<1>(top).contiguous();
  const auto* g = given.data_ptr<float>();
  const auto* bp = best.data_ptr<float>();
  const auto* ap = arg.data_ptr<int64_t>();
  const auto* yl = scored_labels.data_ptr<int64_t>();
  std::vector<int64_t> order;
  for (int64_t s = 0; s < scored_labels.size(0); ++s)
    if (g[s] < 1.0 / Kd && ap[s] != yl[s]) order.push_back(s);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return bp[a] - g[a] > bp[b] - g[b]; });
  for (int64_t s : order) {
    out.suspects.push_back(train_pos[static_cast<size_t>(s)]);
    out.suggested.push_back(ap[s]);
  }
  return out;
}

std::optional<Finding> label_agreement_finding(const LabelAgreement& a, const AgreementOptions& o,
                                               size_t max_samples) {
  if (!clears_bars(a, o)) return std::nullopt;
  Finding f;
  f.cause = "label_noise";
  f.severity = "warning";
  f.status = "suspected";
  f.confidence = std::min(o.max_confidence, o.base_confidence + o.per_noise * a.estimated_noise);
  f.evidence.push_back(fmt::format(
      "models fitted to the validation labels agree with {:.1f}% of the training labels but "
      "{:.1f}% of unseen validation labels (class-balanced; {:.1f} standard errors apart; chance "
      "1/{} is {:.1f} standard errors below): about {:.0f}% of the training labels look wrong",
      100 * a.train_agreement, 100 * a.val_agreement, a.z(), a.num_classes, a.learned_z(),
      100 * a.estimated_noise));
  f.evidence.push_back(fmt::format(
      "{} training images disagree with those models (P(label) below chance, 1/{}); mean top "
      "probability {:.2f} on training images vs {:.2f} on validation images (alike: the images "
      "look the same, only the labels differ)",
      a.suspects.size(), a.num_classes, a.train_confidence, a.val_confidence));
  f.explanation =
      "The training labels disagree with the validation labels on images that look alike, so "
      "the network is trained towards contradictory targets: the training loss stays high and "
      "validation accuracy stays low however the optimiser is set. Fix or drop the disagreeing "
      "training samples (list them in data.train.exclude).";
  f.samples.assign(a.suspects.begin(), a.suspects.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                max_samples, a.suspects.size())));
  return f;
}

std::string label_agreement_note(const LabelAgreement& a) {
  if (!a.measured) return "label agreement: not measured (" + a.skipped + ")";
  return fmt::format(
      "label agreement: models fitted to {} validation images agree with {:.1f}% of unseen "
      "validation labels and {:.1f}% of {} training labels (z {:.1f}, estimated noise {:.1f}%, "
      "top probability {:.2f} vs {:.2f}, {} suspects, learned z {:.1f}{}{})",
      a.val_images, 100 * a.val_agreement, 100 * a.train_agreement, a.train_images, a.z(),
      100 * a.estimated_noise, a.val_confidence, a.train_confidence, a.suspects.size(),
      a.learned_z(),
      a.left_out_odd > 0 ? fmt::format(", {} odd training images left out", a.left_out_odd) : "",
      a.train_noise_like > 0 || a.val_noise_like > 0
          ? fmt::format("; noise-like images {:.1f}% of training, {:.1f}% of validation",
                        100 * a.train_noise_like, 100 * a.val_noise_like)
          : "");
}

}  // namespace lossdoctor::audit
