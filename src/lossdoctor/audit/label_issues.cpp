#include "lossdoctor/audit/label_issues.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include "lossdoctor/audit/small_cnn.hpp"

namespace lossdoctor::audit {
namespace {

/// Restores the intra-op thread count on scope exit.
struct ThreadGuard {
  int saved;
  explicit ThreadGuard(int threads) : saved(at::get_num_threads()) {
    if (threads > 0) at::set_num_threads(threads);
  }
  ~ThreadGuard() { at::set_num_threads(saved); }
};

/// Ranks (0 = smallest) of `v`, ties broken by index.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t k = 0; k < order.size(); ++k) r[order[k]] = static_cast<double>(k);
  return r;
}

/// Out-of-sample softmax probabilities [N, K]: fold f's model trains on the samples of the other
/// folds with `train_on[s]` and predicts every sample of fold f. `round` > 0 varies the seeds of a
/// refit so it is not the first round's models again. A fold with no sample to train on (tiny
/// data, or a refit that dropped them all) predicts uniform 1/K: no evidence either way.
at::Tensor cross_validated_probs(const at::Tensor& x, const at::Tensor& y,
                                 const std::vector<int>& fold_of, const std::vector<bool>& train_on,
                                 int64_t K, const LabelIssueOptions& options, uint64_t round,
                                 const std::function<void(const std::string&)>& progress) {
  const int64_t n = x.size(0);
  at::Tensor probs = torch::full({n, K}, 1.0 / static_cast<double>(K), torch::kFloat);
  for (int f = 0; f < options.folds; ++f) {
    std::vector<int64_t> train_idx, held_idx;
    for (int64_t s = 0; s < n; ++s) {
      if (fold_of[s] == f) {
        held_idx.push_back(s);
      } else if (train_on[s]) {
        train_idx.push_back(s);
      }
    }
    if (held_idx.empty() || train_idx.empty()) continue;
    const at::Tensor tr = torch::tensor(train_idx, torch::kLong);
    const at::Tensor xt = x.index_select(0, tr);
    const at::Tensor yt = y.index_select(0, tr);

    SmallFit fit;
    fit.epochs = options.epochs;
    fit.batch_size = options.batch_size;
    fit.lr = options.lr;
    fit.init_seed = options.seed * 1000003ULL + static_cast<uint64_t>(f) + 7919ULL * round;
    fit.shuffle_seed = (options.seed + 7919ULL * round) ^ (0x9e3779b97f4a7c15ULL * (f + 1));
    double last_loss = 0;
    auto net = fit_small_cnn(xt, yt, K, fit, &last_loss);
    const at::Tensor held = torch::tensor(held_idx, torch::kLong);
    probs.index_copy_(0, held, predict_probs(net, x.index_select(0, held)));
    if (progress) {
      progress(fmt::format(
          "label issues: {}fold {}/{} trained on {} samples (last epoch loss {:.3f})",
          round > 0 ? "refit " : "", f + 1, options.folds, train_idx.size(), last_loss));
    }
  }

  return probs;
}

}  // namespace

LabelIssues find_label_issues(const at::Tensor& images, const at::Tensor& labels,
                              int64_t num_classes, const LabelIssueOptions& options,
                              const std::function<void(const std::string&)>& progress) {
  if (!images.defined() || images.dim() != 4) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: images must be [N, C, H, W], got {} dims",
                    images.defined() ? images.dim() : 0));
  }
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != images.size(0)) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: labels must be [N] with N = {}", images.size(0)));
  }
  if (num_classes < 2) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: num_classes must be >= 2, got {}", num_classes));
  }
  const int64_t n = images.size(0);
  if (options.folds < 2 || options.folds > n) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: folds must be in [2, N={}], got {}", n, options.folds));
  }
  if (options.epochs < 1) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: epochs must be >= 1, got {}", options.epochs));
  }
  if (options.rounds < 1) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: rounds must be >= 1, got {}", options.rounds));
  }
  if (!(options.refit_drop_below >= 0 && options.refit_drop_below <= 1)) {
    throw std::invalid_argument(fmt::format(
        "find_label_issues: refit_drop_below must be in [0, 1], got {}", options.refit_drop_below));
  }
  if (options.batch_size < 1) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: batch_size must be >= 1, got {}", options.batch_size));
  }
  if (images.size(2) < 4 || images.size(3) < 4) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: images must be at least 4x4, got {}x{}", images.size(2),
                    images.size(3)));
  }
  if (!(options.suspect_below >= 0 && options.suspect_below < 1)) {
    throw std::invalid_argument(fmt::format(
        "find_label_issues: suspect_below must be in [0, 1), got {}", options.suspect_below));
  }
  if (!options.margins.empty() && static_cast<int64_t>(options.margins.size()) != n) {
    throw std::invalid_argument(fmt::format(
        "find_label_issues: margins has {} entries, expected {}", options.margins.size(), n));
  }
  const at::Tensor y = labels.to(torch::kCPU, torch::kLong).contiguous();
  if (n > 0 && (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= num_classes)) {
    throw std::invalid_argument(
        fmt::format("find_label_issues: labels must be in [0, {}), got range [{}, {}]", num_classes,
                    y.min().item<int64_t>(), y.max().item<int64_t>()));
  }
  const at::Tensor x = images.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t K = num_classes;
  const auto* yl = y.data_ptr<int64_t>();

  ThreadGuard threads(options.threads);

  // Seeded fold split: a shuffled order, dealt round-robin per class (stratified).
  std::mt19937_64 rng(options.seed);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int> fold_of(n);
  {
    std::vector<int64_t> dealt(K, 0);
    for (int64_t s : order) fold_of[s] = static_cast<int>(dealt[yl[s]]++ % options.folds);
  }

  // Round 1 trains on every sample. A refit round trains each fold's model again without the
  // samples round 1 found confidently mislabelled (P(given) < refit_drop_below), so the flips no
  // longer pull the models towards their labels, and predicts every held-out sample afresh.
  std::vector<bool> train_on(static_cast<size_t>(n), true);
  at::Tensor probs = cross_validated_probs(x, y, fold_of, train_on, K, options, 0, progress);
  for (int round = 1; round < options.rounds; ++round) {
    const at::Tensor self = probs.gather(1, y.view({n, 1})).view({n}).contiguous();
    const float* sp = self.data_ptr<float>();
    int64_t dropped = 0;
    for (int64_t s = 0; s < n; ++s) {
      // Cumulative: a sample one round found confidently mislabelled stays out of training.
      if (sp[s] < options.refit_drop_below) train_on[static_cast<size_t>(s)] = false;
      dropped += train_on[static_cast<size_t>(s)] ? 0 : 1;
    }
    if (progress) {
      progress(fmt::format(
          "label issues: round {}/{} refits every fold without the {} samples scored P(given) < "
          "{:g} so far",
          round + 1, options.rounds, dropped, options.refit_drop_below));
    }
    probs = cross_validated_probs(x, y, fold_of, train_on, K, options, static_cast<uint64_t>(round),
                                  progress);
  }

  // Confident learning.
  LabelIssues out;
  out.pred_probs = probs;
  if (options.rounds > 1) {
    for (int64_t s = 0; s < n; ++s) {
      if (!train_on[static_cast<size_t>(s)]) out.refit_dropped.push_back(s);
    }
  }
  const at::Tensor pd = probs.to(torch::kDouble).contiguous();
  const double* P = pd.data_ptr<double>();
  std::vector<double> thresh(K, 0.0);
  std::vector<int64_t> count(K, 0);
  for (int64_t s = 0; s < n; ++s) {
    thresh[yl[s]] += P[s * K + yl[s]];
    ++count[yl[s]];
  }
  for (int64_t j = 0; j < K; ++j) thresh[j] = count[j] ? thresh[j] / count[j] : 1.0;

  std::vector<int64_t> joint(K * K, 0);
  std::vector<int64_t> confident(n, -1);  // confident class, -1: none above threshold
  for (int64_t s = 0; s < n; ++s) {
    int64_t best = -1;
    for (int64_t j = 0; j < K; ++j) {
      const double pj = P[s * K + j];
      if (pj >= thresh[j] && (best < 0 || pj > P[s * K + best])) best = j;
    }
    confident[s] = best;
    if (best >= 0) ++joint[yl[s] * K + best];
  }
  out.confident_joint = torch::tensor(joint, torch::kLong).view({K, K});

  // Calibrate: each row sums to the number of samples with that given label; normalise to a joint.
  std::vector<double> q(K * K, 0.0);
  for (int64_t i = 0; i < K; ++i) {
    int64_t row = 0;
    for (int64_t j = 0; j < K; ++j) row += joint[i * K + j];
    for (int64_t j = 0; j < K; ++j) {
      q[i * K + j] = row ? static_cast<double>(joint[i * K + j]) / row * count[i] : 0.0;
    }
  }
  const double total = std::accumulate(q.begin(), q.end(), 0.0);
  double trace = 0;
  for (auto& v : q) v = total > 0 ? v / total : 0.0;
  for (int64_t i = 0; i < K; ++i) trace += q[i * K + i];
  out.noise_matrix = torch::tensor(q, torch::kDouble).view({K, K});
  out.estimated_noise_rate = total > 0 ? 1.0 - trace : 0.0;

  // Flag: self-confidence below chance and another class predicted. Measured on Fashion-MNIST
  // (12k, uniform noise; docs/label_issues.md) this beats cleanlab's prune-by-noise-rate (the
  // calibrated joint over-counts the model's own confusions between similar classes) and a fixed
  // fraction of the class threshold t_j (t_j falls as the noise rises, so that rule misses more
  // flips the noisier the data).
  const double below =
      options.suspect_below > 0 ? options.suspect_below : 1.0 / static_cast<double>(K);
  std::vector<int64_t> flagged;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t given = yl[s];
    const double self = P[s * K + given];
    if (self >= below) continue;
    int64_t arg = 0;
    for (int64_t j = 1; j < K; ++j) {
      if (P[s * K + j] > P[s * K + arg]) arg = j;
    }
    if (arg != given) flagged.push_back(s);
  }

  // Rank: self-confidence ascending, or the mean of self-confidence and margin ranks.
  std::vector<double> key(flagged.size());
  for (size_t k = 0; k < flagged.size(); ++k) key[k] = P[flagged[k] * K + yl[flagged[k]]];
  if (!options.margins.empty()) {
    std::vector<double> margin(flagged.size());
    for (size_t k = 0; k < flagged.size(); ++k) margin[k] = options.margins[flagged[k]];
    const auto r1 = ranks(key), r2 = ranks(margin);
    for (size_t k = 0; k < flagged.size(); ++k) key[k] = 0.5 * (r1[k] + r2[k]);
  }
  std::vector<size_t> rank_order(flagged.size());
  std::iota(rank_order.begin(), rank_order.end(), 0);
  std::stable_sort(rank_order.begin(), rank_order.end(),
                   [&](size_t a, size_t b) { return key[a] < key[b]; });
  for (size_t k : rank_order) {
    const int64_t s = flagged[k];
    out.suspects.push_back(s);
    out.self_confidence.push_back(P[s * K + yl[s]]);
    int64_t arg = 0;
    for (int64_t j = 1; j < K; ++j) {
      if (P[s * K + j] > P[s * K + arg]) arg = j;
    }
    out.suggested.push_back(arg);
  }
  return out;
}

Finding label_noise_finding(const LabelIssues& issues, int64_t num_classes, size_t max_samples) {
  Finding f;
  f.cause = "label_noise";
  f.status = "suspected";
  const double rate = issues.estimated_noise_rate;
  // 2% estimated noise → ~0.1, 10% → ~0.5, ≥ 19% → 0.95.
  f.confidence = std::clamp(rate * 5.0, 0.0, 0.95);
  f.evidence.push_back(fmt::format(
      "estimated label noise rate {:.1f}% (confident learning on {}-class out-of-sample "
      "predictions)",
      100.0 * rate, num_classes));
  if (issues.noise_matrix.defined() && issues.noise_matrix.numel() == num_classes * num_classes) {
    const at::Tensor q = issues.noise_matrix.to(torch::kDouble).contiguous();
    const double* Q = q.data_ptr<double>();
    std::vector<double> row_sum(static_cast<size_t>(num_classes), 0.0);
    std::vector<std::pair<double, std::pair<int64_t, int64_t>>> pairs;
    for (int64_t i = 0; i < num_classes; ++i) {
      for (int64_t j = 0; j < num_classes; ++j) {
        row_sum[static_cast<size_t>(i)] += Q[i * num_classes + j];
        if (i != j && Q[i * num_classes + j] > 0) pairs.push_back({Q[i * num_classes + j], {i, j}});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    // Every pair worth a look (≥ kReportedPairShare of all samples), at most kMaxReportedPairs;
    // always at least the top one. The full matrix goes to label_noise_matrix.csv (audit --out).
    constexpr double kReportedPairShare = 0.005;
    constexpr size_t kMaxReportedPairs = 10;
    std::string top;
    size_t shown = 0;
    for (; shown < std::min(kMaxReportedPairs, pairs.size()); ++shown) {
      if (shown > 0 && pairs[shown].first < kReportedPairShare) break;
      const auto [i, j] = pairs[shown].second;
      const double of_label = row_sum[static_cast<size_t>(i)] > 0
                                  ? pairs[shown].first / row_sum[static_cast<size_t>(i)]
                                  : 0.0;
      top += fmt::format("{}{}→{} {:.1f}% ({:.0f}% of label {})", shown ? ", " : "", i, j,
                         100.0 * pairs[shown].first, 100.0 * of_label, i);
    }
    if (shown < pairs.size()) top += fmt::format(" and {} smaller pairs", pairs.size() - shown);
    if (!top.empty()) {
      f.evidence.push_back("estimated noise per class pair (given→true, share of samples): " + top);
    }
  }
  f.evidence.push_back(fmt::format("{} suspected mislabelled samples", issues.suspects.size()));
  f.explanation =
      "Samples whose given label disagrees confidently with a model that never saw them are "
      "likely mislabelled. Wrong labels pull the gradient towards contradictory targets, so the "
      "training loss stays high or rises while the network memorises them.";
  const size_t k = std::min(max_samples, issues.suspects.size());
  f.samples.assign(issues.suspects.begin(), issues.suspects.begin() + k);
  return f;
}

}  // namespace lossdoctor::audit
