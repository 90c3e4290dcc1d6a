// Data audit checks (see checks.hpp for the contracts, docs/audit.md for the method).
#include "lossdoctor/audit/checks.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "lossdoctor/data/pipeline.hpp"

namespace lossdoctor::audit {
namespace {

void check_images(const data::Split& s, const char* name) {
  if (s.size() == 0) return;
  if (!s.images.defined() || s.images.dim() != 4 || s.images.scalar_type() != at::kFloat) {
    throw std::invalid_argument(fmt::format("audit: {} images must be float32 [N, C, H, W]", name));
  }
}

std::vector<int64_t> to_vec(const at::Tensor& t) {
  auto c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::vector<double> to_dvec(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::string list_preview(const std::vector<int64_t>& v, size_t n = 10) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < n; ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  if (v.size() > n) out += fmt::format(", … ({} more)", v.size() - n);
  return out;
}

/// Per-image statistics of one split, computed with whole-tensor ops.
struct ImageStats {
  at::Tensor finite;  ///< bool [N]: every pixel finite
  at::Tensor mean;    ///< double [N] (non-finite pixels read as 0)
  at::Tensor stddev;  ///< double [N]
  at::Tensor sat;     ///< double [N]: fraction of pixels at the range's min or max
  at::Tensor hf;      ///< double [N]: mean |dx| + mean |dy| over std
  double lo = 0, hi = 0;
};

ImageStats image_stats(const data::Split& s, std::optional<std::pair<double, double>> range = {}) {
  ImageStats st;
  const int64_t n = s.size();
  if (n == 0) return st;
  at::Tensor x = s.images.contiguous();
  at::Tensor flat = x.view({n, -1});
  at::Tensor fin = at::isfinite(flat);
  st.finite = fin.all(1);
  at::Tensor clean = at::nan_to_num(flat, 0.0, 0.0, 0.0);
  if (range) {
    st.lo = range->first;
    st.hi = range->second;
  } else {
    st.lo = at::where(fin, flat, std::numeric_limits<float>::infinity()).min().item<double>();
    st.hi = at::where(fin, flat, -std::numeric_limits<float>::infinity()).max().item<double>();
    if (!std::isfinite(st.lo)) st.lo = st.hi = 0;
  }
  auto [sd, mn] = at::std_mean(clean, {1}, /*unbiased=*/false);
  st.mean = mn.to(at::kDouble);
  st.stddev = sd.to(at::kDouble);
  st.sat = (clean.le(st.lo) | clean.ge(st.hi)).to(at::kFloat).mean({1}).to(at::kDouble);
  at::Tensor img = clean.view(x.sizes());
  at::Tensor hfe = at::zeros({n}, at::kFloat);
  if (x.size(3) > 1) {
    hfe = hfe +
          (img.narrow(3, 1, x.size(3) - 1) - img.narrow(3, 0, x.size(3) - 1)).abs().mean({1, 2, 3});
  }
  if (x.size(2) > 1) {
    hfe = hfe +
          (img.narrow(2, 1, x.size(2) - 1) - img.narrow(2, 0, x.size(2) - 1)).abs().mean({1, 2, 3});
  }
  st.hf = hfe.to(at::kDouble) / (st.stddev + 1e-6);
  return st;
}

at::Tensor bad_labels(const data::Split& s, int64_t num_classes) {
  if (s.size() == 0) return at::zeros({0}, at::kBool);
  return s.labels.lt(0) | s.labels.ge(num_classes);
}

/// Images integrity flags: non-finite, constant.
at::Tensor integrity_mask(const data::Split& s, const ImageStats& st) {
  if (s.size() == 0) return at::zeros({0}, at::kBool);
  return st.finite.logical_not() | st.stddev.le(0.0);
}

void cap(std::vector<int64_t>& v, size_t n) {
  if (v.size() > n) v.resize(n);
}

// ---- runs test ----
struct RunsTest {
  int64_t runs = 0;
  double expected = 0, sd = 0, z = 0;
  int64_t longest = 0;
};

RunsTest runs_test(const std::vector<int64_t>& labels) {
  RunsTest r;
  const double n = static_cast<double>(labels.size());
  if (labels.size() < 2) return r;
  std::unordered_map<int64_t, double> counts;
  for (auto l : labels) counts[l] += 1;
  r.runs = 1;
  int64_t cur = 1;
  r.longest = 1;
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i] != labels[i - 1]) {
      ++r.runs;
      cur = 1;
    } else {
      r.longest = std::max(r.longest, ++cur);
    }
  }
  double s2 = 0, s3 = 0;
  for (auto& [k, c] : counts) {
    s2 += c * c;
    s3 += c * c * c;
  }
  // Multi-category runs test (Barton & David 1957).
  r.expected = (n * (n + 1) - s2) / n;
  const double var = (s2 * (s2 + n * (n + 1)) - 2 * n * s3 - n * n * n) / (n * n * (n - 1));
  r.sd = std::sqrt(std::max(var, 0.0));
  r.z = r.sd > 0 ? (static_cast<double>(r.runs) - r.expected) / r.sd : 0.0;
  return r;
}

// ---- hashing ----
uint64_t hash_bytes(const float* p, int64_t count) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, b + i, 8);
    h ^= w;
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < bytes; ++i) {
    h ^= b[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct UnionFind {
  std::vector<int64_t> p;
  explicit UnionFind(int64_t n) : p(static_cast<size_t>(n)) { std::iota(p.begin(), p.end(), 0); }
  int64_t find(int64_t x) {
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
  }
  void unite(int64_t a, int64_t b) {
    a = find(a);
    b = find(b);
    if (a != b) p[std::max(a, b)] = std::min(a, b);
  }
};

std::string fmt_double(double v) { return fmt::format("{}", v); }

std::string step_to_yaml(const spec::TransformSpec& t) {
  auto list = [](const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt_double(v[i]);
    return s + "]";
  };
  switch (t.kind) {
    case spec::TransformSpec::Kind::Scale:
      return "{scale: " + fmt_double(t.factor) + "}";
    case spec::TransformSpec::Kind::Normalize:
      return "{normalize: {mean: " + list(t.mean) + ", std: " + list(t.std) + "}}";
    case spec::TransformSpec::Kind::Resize:
      return fmt::format("{{resize: [{}, {}]}}", t.height, t.width);
    case spec::TransformSpec::Kind::RandomCrop:
      return fmt::format("{{random_crop: {{size: {}, padding: {}}}}}", t.size, t.padding);
    case spec::TransformSpec::Kind::RandomFlip:
      return "{random_flip: horizontal}";
  }
  return "{}";
}

std::vector<spec::TransformSpec> deterministic(const std::vector<spec::TransformSpec>& steps) {
  std::vector<spec::TransformSpec> out;
  for (const auto& t : steps) {
    if (!t.is_augmentation()) out.push_back(t);
  }
  return out;
}

bool same_steps(const std::vector<spec::TransformSpec>& a,
                const std::vector<spec::TransformSpec>& b) {
  return transforms_to_yaml(a) == transforms_to_yaml(b);
}

}  // namespace

std::string transforms_to_yaml(const std::vector<spec::TransformSpec>& steps) {
  std::string s = "[";
  for (size_t i = 0; i < steps.size(); ++i) s += (i ? ", " : "") + step_to_yaml(steps[i]);
  return s + "]";
}

// ============================================================================ integrity
std::vector<Finding> audit_integrity(const data::Dataset& ds, const AuditOptions& opt) {
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  std::vector<std::string> evidence;
  std::vector<int64_t> train_flagged;
  int64_t total_train = 0, total_val = 0;
  for (int which = 0; which < 2; ++which) {
    const auto& s = which == 0 ? ds.train : ds.val;
    const char* name = which == 0 ? "train" : "val";
    if (s.size() == 0) continue;
    auto st = image_stats(s, std::make_pair(0.0, 0.0));
    at::Tensor nonfinite = st.finite.logical_not();
    at::Tensor constant = st.finite & st.stddev.le(0.0);
    at::Tensor badlab = bad_labels(s, ds.num_classes);
    auto nf = to_vec(nonfinite.nonzero().view(-1));
    auto cst = to_vec(constant.nonzero().view(-1));
    auto bl = to_vec(badlab.nonzero().view(-1));
    const double n = static_cast<double>(s.size());
    if (!nf.empty()) {
      evidence.push_back(fmt::format("{} {} images ({:.2f}%) contain NaN/Inf pixels: {}", nf.size(),
                                     name, 100.0 * nf.size() / n, list_preview(nf)));
    }
    if (!cst.empty()) {
      // Which constants: 0, max, other.
      auto vals = to_dvec(st.mean.index_select(0, at::tensor(cst, at::kLong)));
      int64_t zeros = 0, full = 0;
      for (double v : vals) {
        zeros += v == 0.0;
        full += v == 255.0 || v == 1.0;
      }
      evidence.push_back(fmt::format(
          "{} {} images ({:.2f}%) are constant (std 0): {} all 0, {} all at the maximum "
          "(255 or 1), {} another constant; e.g. {}",
          cst.size(), name, 100.0 * cst.size() / n, zeros, full,
          static_cast<int64_t>(cst.size()) - zeros - full, list_preview(cst)));
    }
    if (!bl.empty()) {
      auto labs = to_vec(s.labels.index_select(0, at::tensor(bl, at::kLong)));
      evidence.push_back(fmt::format("{} {} labels outside [0, {}): positions {} (values {})",
                                     bl.size(), name, ds.num_classes, list_preview(bl),
                                     list_preview(labs)));
    }
    at::Tensor any = nonfinite | constant | badlab;
    const int64_t count = any.sum().item<int64_t>();
    if (which == 0) {
      total_train = count;
      train_flagged = to_vec(any.nonzero().view(-1));
    } else {
      total_val = count;
    }
  }
  if (total_train + total_val == 0) return {};
  Finding f;
  f.cause = "corrupt_samples";
  f.severity = "error";
  const double frac = ds.train.size() ? static_cast<double>(total_train) / ds.train.size() : 0;
  f.confidence = std::min(0.99, 0.9 + 5.0 * frac);
  evidence.insert(evidence.begin(),
                  fmt::format("{} of {} train and {} of {} val samples are unusable (NaN/Inf, "
                              "constant image or invalid label)",
                              total_train, ds.train.size(), total_val, ds.val.size()));
  f.evidence = std::move(evidence);
  f.explanation =
      "NaN or Inf pixels make the loss NaN for every batch that contains them, and constant "
      "images or invalid labels give the network targets it cannot learn from the input. Remove "
      "these samples (list them in data.train.exclude) or fix the files they come from.";
  cap(train_flagged, opt.max_samples);
  f.samples = std::move(train_flagged);
  return {f};
}

// ============================================================================ outliers
namespace {

struct OutlierScores {
  at::Tensor zmax;    ///< double [N]: largest |z| over the features (0 where not scored)
  at::Tensor which;   ///< long [N]: feature index of zmax
  at::Tensor scored;  ///< bool [N]
};

const char* kFeatureNames[] = {"brightness (mean)", "contrast (std)", "saturation fraction",
                               "high-frequency energy"};

OutlierScores outlier_scores(const data::Dataset& ds, const AuditOptions& opt,
                             ImageStats* stats_out = nullptr) {
  const auto& s = ds.train;
  const int64_t n = s.size();
  OutlierScores out;
  auto st = image_stats(s);
  at::Tensor feats = at::stack({st.mean, st.stddev, st.sat, st.hf}, 1);  // [N, 4]
  at::Tensor ok = integrity_mask(s, st).logical_not() & bad_labels(s, ds.num_classes).logical_not();
  out.scored = ok;
  at::Tensor z = at::zeros({n, 4}, at::kDouble);
  const double range = std::max(st.hi - st.lo, 1e-6);
  // Absolute scale floors: 0.5% of the value range for mean/std, 2% of the pixels for the
  // saturation fraction, 0.02 for the high-frequency ratio.
  at::Tensor abs_floor =
      at::tensor(std::vector<double>{0.005 * range, 0.005 * range, 0.02, 0.02}, at::kDouble);
  for (int64_t c = 0; c < ds.num_classes; ++c) {
    at::Tensor idx = (ok & s.labels.eq(c)).nonzero().view(-1);
    if (idx.numel() < 5) continue;
    at::Tensor f = feats.index_select(0, idx);
    at::Tensor med = std::get<0>(f.median(0));
    at::Tensor mad = std::get<0>((f - med).abs().median(0)) * 1.4826;
    // Floor the scale so a feature that is nearly constant in a class does not explode.
    at::Tensor floor = at::maximum(med.abs() * 0.01, abs_floor);
    at::Tensor scale = at::maximum(mad, floor);
    z.index_copy_(0, idx, (f - med) / scale);
  }
  // High-frequency energy is the sharpest noise detector: its own (lower) threshold, applied by
  // rescaling its z so that one cut-off (outlier_z) serves all features.
  // High-frequency energy is also scored against all classes pooled; the smaller z counts, so a
  // textured image in a smooth class is not flagged unless it is unusual overall.
  {
    at::Tensor idx = ok.nonzero().view(-1);
    if (idx.numel() >= 5) {
      at::Tensor f = st.hf.index_select(0, idx);
      at::Tensor med = f.median();
      at::Tensor mad = (f - med).abs().median() * 1.4826;
      at::Tensor zg = (st.hf - med) / at::maximum(mad, at::full({}, 0.02, at::kDouble));
      z.select(1, 3).copy_(at::minimum(z.select(1, 3), zg) * ok.to(at::kDouble));
    }
  }
  // Only excess high-frequency energy is a fault (smooth images are normal).
  z.select(1, 3).clamp_min_(0.0).mul_(opt.outlier_z / opt.outlier_hf_z);
  auto [zm, wh] = z.abs().max(1);
  out.zmax = zm;
  out.which = wh;
  if (stats_out) *stats_out = st;
  return out;
}

}  // namespace

std::vector<Finding> audit_outliers(const data::Dataset& ds, const AuditOptions& opt) {
  check_images(ds.train, "train");
  if (ds.train.size() == 0) return {};
  ImageStats st;
  auto sc = outlier_scores(ds, opt, &st);
  at::Tensor flagged = sc.scored & sc.zmax.gt(opt.outlier_z);
  at::Tensor idx = flagged.nonzero().view(-1);
  const int64_t count = idx.numel();
  if (count == 0) return {};
  at::Tensor order = std::get<1>(sc.zmax.index_select(0, idx).sort(0, /*descending=*/true));
  auto sorted = to_vec(idx.index_select(0, order));
  auto which = to_vec(sc.which.index_select(0, idx));
  int64_t per_feature[4] = {0, 0, 0, 0};
  for (auto w : which) ++per_feature[w];
  const double n = static_cast<double>(ds.train.size());
  Finding f;
  f.cause = "corrupt_samples";
  f.severity = "warning";
  const double frac = count / n;
  f.confidence = std::min(0.9, 0.4 + 10.0 * frac);
  f.evidence.push_back(fmt::format(
      "{} of {} train images ({:.2f}%) have a robust z-score |z| > {} within their class", count,
      ds.train.size(), 100.0 * frac, opt.outlier_z));
  f.evidence.push_back(fmt::format(
      "most extreme feature: brightness {}, contrast {}, saturation {}, high-frequency {}",
      per_feature[0], per_feature[1], per_feature[2], per_feature[3]));
  const size_t show = std::min<size_t>(5, sorted.size());
  for (size_t k = 0; k < show; ++k) {
    const int64_t i = sorted[k];
    f.evidence.push_back(fmt::format(
        "#{} (label {}): |z| {:.1f} on {}; mean {:.1f}, std {:.1f}, saturation {:.2f}, "
        "high-frequency {:.2f}",
        i, ds.train.labels[i].item<int64_t>(), sc.zmax[i].item<double>(),
        kFeatureNames[sc.which[i].item<int64_t>()], st.mean[i].item<double>(),
        st.stddev[i].item<double>(), st.sat[i].item<double>(), st.hf[i].item<double>()));
  }
  f.explanation =
      "Images far outside their class's usual brightness, contrast or texture (noise, "
      "saturation, wrong decoding) give large, unstable losses and gradients. Inspect the listed "
      "samples and drop the broken ones via data.train.exclude.";
  cap(sorted, opt.max_samples);
  f.samples = std::move(sorted);
  return {f};
}

// ============================================================================ duplicates
std::vector<Finding> audit_duplicates(const data::Dataset& ds, std::vector<AuditNote>* notes,
                                      const AuditOptions& opt) {
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  const int64_t nt = ds.train.size(), nv = ds.val.size();
  if (nt == 0) return {};
  const bool use_val = nv > 0 && ds.val.images.sizes().slice(1) == ds.train.images.sizes().slice(1);
  at::Tensor images = use_val ? at::cat({ds.train.images, ds.val.images}, 0).contiguous()
                              : ds.train.images.contiguous();
  at::Tensor labels_t = use_val ? at::cat({ds.train.labels, ds.val.labels}, 0) : ds.train.labels;
  const int64_t n = images.size(0);
  auto labels = to_vec(labels_t);
  data::Split all;
  all.images = images;
  all.labels = labels_t;
  auto st = image_stats(all);
  auto skip = to_vec(integrity_mask(all, st).to(at::kLong));
  const double range = std::max(st.hi - st.lo, 1e-6);

  // Exact duplicates: hash of the bytes, confirmed with memcmp.
  const int64_t per = images.numel() / n;
  const float* data = images.data_ptr<float>();
  UnionFind uf(n);
  std::vector<char> exact_member(static_cast<size_t>(n), 0);
  {
    std::unordered_map<uint64_t, int64_t> first;
    first.reserve(static_cast<size_t>(n) * 2);
    for (int64_t i = 0; i < n; ++i) {
      if (skip[i]) continue;
      const uint64_t h = hash_bytes(data + i * per, per);
      auto [it, inserted] = first.emplace(h, i);
      if (!inserted &&
          std::memcmp(data + it->second * per, data + i * per, per * sizeof(float)) == 0) {
        uf.unite(it->second, i);
        exact_member[i] = exact_member[it->second] = 1;
      }
    }
  }
  // Near duplicates: 64-bit average hash of an 8×8 thumbnail; candidate pairs are neighbours
  // after sorting by five rotations of the hash (each 13-bit block leading once), confirmed by
  // Hamming distance and the thumbnails' mean absolute difference.
  at::Tensor clean = at::nan_to_num(images, 0.0, 0.0, 0.0);
  at::Tensor thumb =
      at::adaptive_avg_pool2d(clean.mean(1, true), {8, 8}).view({n, 64}).contiguous();
  at::Tensor bits = thumb.gt(thumb.mean(1, true)).to(at::kLong);
  at::Tensor weights = at::pow(2, at::arange(32, at::kLong));
  auto lo_half = to_vec((bits.narrow(1, 0, 32) * weights).sum(1));
  auto hi_half = to_vec((bits.narrow(1, 32, 32) * weights).sum(1));
  std::vector<uint64_t> hash(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    hash[i] = static_cast<uint64_t>(lo_half[i]) | (static_cast<uint64_t>(hi_half[i]) << 32);
  }
  const float* th = thumb.data_ptr<float>();
  int64_t near_pairs = 0;
  constexpr int kWindow = 6;
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!skip[i]) order.push_back(i);
  }
  for (int r = 0; r < 5; ++r) {
    const int rot = 13 * r;
    auto key = [&](int64_t i) {
      const uint64_t h = hash[i];
      return rot == 0 ? h : (h << rot) | (h >> (64 - rot));
    };
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      const auto ka = key(a), kb = key(b);
      return ka != kb ? ka < kb : a < b;
    });
    for (size_t a = 0; a < order.size(); ++a) {
      for (size_t b = a + 1; b < order.size() && b <= a + kWindow; ++b) {
        const int64_t i = order[a], j = order[b];
        if (__builtin_popcountll(hash[i] ^ hash[j]) > opt.near_hamming) continue;
        if (uf.find(i) == uf.find(j)) continue;
        double diff = 0;
        for (int k = 0; k < 64; ++k) diff += std::fabs(th[i * 64 + k] - th[j * 64 + k]);
        if (diff / 64.0 > opt.near_thumb_diff * range) continue;
        uf.unite(i, j);
        ++near_pairs;
      }
    }
  }
  // Groups.
  std::unordered_map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) {
    if (skip[i]) continue;
    const int64_t r = uf.find(i);
    if (r != i || true) groups[r].push_back(i);
  }
  std::vector<int64_t> conflict_train, dup_train, leak_train;
  int64_t conflict_groups = 0, dup_groups = 0, leak_groups = 0, exact_groups = 0, leak_val = 0;
  std::vector<std::string> conflict_examples;
  for (auto& [root, members] : groups) {
    if (members.size() < 2) continue;
    std::sort(members.begin(), members.end());
    int64_t tr = 0, va = 0;
    bool conflict = false, exact = false;
    for (auto m : members) {
      (m < nt ? tr : va) += 1;
      conflict |= labels[m] != labels[members[0]];
      exact |= exact_member[m] != 0;
    }
    exact_groups += exact;
    if (tr >= 2) {
      ++dup_groups;
      for (auto m : members) {
        if (m < nt && m != members[0]) dup_train.push_back(m);
      }
    }
    if (tr >= 1 && va >= 1) {
      ++leak_groups;
      leak_val += va;
      for (auto m : members) {
        if (m < nt) leak_train.push_back(m);
      }
    }
    if (conflict && tr >= 1) {
      ++conflict_groups;
      std::string ex;
      for (auto m : members) {
        if (m < nt) conflict_train.push_back(m);
        if (ex.size() < 80) {
          ex += fmt::format("{}{}{} (label {})", ex.empty() ? "" : ", ", m < nt ? "train " : "val ",
                            m < nt ? m : m - nt, labels[m]);
        }
      }
      if (conflict_examples.size() < 5) conflict_examples.push_back(ex);
    }
  }
  std::sort(conflict_train.begin(), conflict_train.end());
  std::sort(dup_train.begin(), dup_train.end());
  std::sort(leak_train.begin(), leak_train.end());
  if (notes) {
    if (dup_groups > 0) {
      AuditNote note;
      note.text = fmt::format(
          "{} groups of duplicate train images ({} exact-byte groups overall, {} near-duplicate "
          "pairs): {} redundant train copies ({:.2f}%)",
          dup_groups, exact_groups, near_pairs, dup_train.size(), 100.0 * dup_train.size() / nt);
      cap(dup_train, opt.max_samples);
      note.samples = dup_train;
      notes->push_back(std::move(note));
    }
    if (leak_groups > 0) {
      AuditNote note;
      note.text = fmt::format(
          "train/val leakage: {} groups of images appear in both splits ({} train, {} val "
          "images); validation loss on them is not a measure of generalisation",
          leak_groups, leak_train.size(), leak_val);
      cap(leak_train, opt.max_samples);
      note.samples = leak_train;
      notes->push_back(std::move(note));
    }
  }
  if (conflict_groups == 0) return {};
  Finding f;
  f.cause = "label_noise";
  f.severity = "warning";
  const double frac = static_cast<double>(conflict_train.size()) / nt;
  f.confidence = std::min(0.85, 0.3 + 20.0 * frac);
  f.evidence.push_back(fmt::format(
      "{} groups of identical or near-identical images carry different labels ({} train "
      "images, {:.2f}%)",
      conflict_groups, conflict_train.size(), 100.0 * frac));
  for (auto& e : conflict_examples) f.evidence.push_back("e.g. " + e);
  f.explanation =
      "The same image with two different labels is a target the network can never fit, so part "
      "of the loss cannot go down and its gradient pulls the classes against each other. Relabel "
      "or drop the listed samples (data.train.exclude).";
  cap(conflict_train, opt.max_samples);
  f.samples = std::move(conflict_train);
  return {f};
}

// ============================================================================ ordering
std::vector<Finding> audit_ordering(const data::Dataset& ds, bool shuffle,
                                    const AuditOptions& opt) {
  if (shuffle || ds.train.size() < 20) return {};
  auto labels = to_vec(ds.train.labels);
  auto r = runs_test(labels);
  if (r.z >= -opt.ordering_z) return {};
  Finding f;
  f.cause = "unshuffled_data";
  f.severity = "error";
  f.confidence = std::min(0.95, 0.6 + 0.01 * (-r.z));
  f.evidence.push_back(fmt::format(
      "data.shuffle is false and the train labels form {} runs in loader order where a random "
      "order gives {:.0f} ± {:.0f} (runs-test z = {:.1f})",
      r.runs, r.expected, r.sd, r.z));
  f.evidence.push_back(fmt::format("longest run of one label: {} samples ({:.1f}% of the split)",
                                   r.longest, 100.0 * r.longest / labels.size()));
  f.explanation =
      "Batches drawn from long runs of one class make each step fit that class only, so the "
      "loss jumps whenever the class changes and the model forgets the previous ones. Shuffle the "
      "training set every epoch.";
  f.fix["data.shuffle"] = "true";
  return {f};
}

// ============================================================================ preparation
std::vector<Finding> audit_preparation(const data::Dataset& ds, const spec::DataSpec& spec,
                                       const AuditOptions& opt) {
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  if (ds.train.size() < 2 || ds.val.size() < 2) return {};
  const auto train_steps = deterministic(data::make_train_pipeline(spec).steps());
  const auto val_steps = deterministic(data::make_val_pipeline(spec).steps());
  data::Pipeline tp(train_steps, "data.transforms.train"), vp(val_steps, "data.transforms.val");
  auto subset = [&](const data::Split& s) {
    const int64_t n = s.size();
    const int64_t k = std::min(n, opt.prep_samples);
    at::Tensor idx =
        at::linspace(0, static_cast<double>(n - 1), k, at::kDouble).round().to(at::kLong);
    at::Tensor x = s.images.index_select(0, idx);
    at::Tensor fin = at::isfinite(x.view({k, -1})).all(1);
    return x.index_select(0, fin.nonzero().view(-1));
  };
  at::Tensor xt = tp.prepare(subset(ds.train));
  at::Tensor xv = vp.prepare(subset(ds.val));
  if (xt.size(0) < 2 || xv.size(0) < 2 || xt.size(1) != xv.size(1)) return {};
  const int64_t channels = xt.size(1);
  at::Tensor it = xt.mean({2, 3}).to(at::kDouble);  // [n, C] per-image channel means
  at::Tensor iv = xv.mean({2, 3}).to(at::kDouble);
  auto [sdt, mt] = at::std_mean(xt.to(at::kDouble), {0, 2, 3});
  auto [sdv, mv] = at::std_mean(xv.to(at::kDouble), {0, 2, 3});
  auto vmt = to_dvec(mt), vmv = to_dvec(mv), vst = to_dvec(sdt), vsv = to_dvec(sdv);
  auto imt = to_dvec(it.mean(0)), imv = to_dvec(iv.mean(0));
  auto ivt = to_dvec(it.var(0)), ivv = to_dvec(iv.var(0));
  const double nt = static_cast<double>(it.size(0)), nv = static_cast<double>(iv.size(0));
  bool stats_differ = false;
  double worst_effect = 0, worst_ratio = 1, worst_t = 0;
  std::vector<std::string> evidence;
  for (int64_t c = 0; c < channels; ++c) {
    const double pooled = std::sqrt((vst[c] * vst[c] + vsv[c] * vsv[c]) / 2.0);
    const double effect = pooled > 0 ? std::fabs(vmt[c] - vmv[c]) / pooled : 0.0;
    const double lo = std::min(vst[c], vsv[c]), hi = std::max(vst[c], vsv[c]);
    const double ratio = lo > 0 ? hi / lo : (hi > 0 ? INFINITY : 1.0);
    const double se = std::sqrt(ivt[c] / nt + ivv[c] / nv);
    const double t = se > 0 ? (imt[c] - imv[c]) / se : 0.0;
    worst_effect = std::max(worst_effect, effect);
    worst_ratio = std::max(worst_ratio, ratio);
    if (std::fabs(t) > std::fabs(worst_t)) worst_t = t;
    if (effect > opt.prep_mean_effect || ratio > opt.prep_std_ratio) stats_differ = true;
    evidence.push_back(
        fmt::format("channel {}: prepared train mean {:.4g} std {:.4g}, val mean {:.4g} std {:.4g} "
                    "(|Δmean|/std {:.2f}, std ratio {:.2f}, Welch t on per-image means {:.1f})",
                    c, vmt[c], vst[c], vmv[c], vsv[c], effect, ratio, t));
  }
  if (!stats_differ) return {};
  const bool steps_differ = !same_steps(train_steps, val_steps);
  Finding f;
  f.cause = "preprocessing_mismatch";
  f.severity = "error";
  f.confidence = steps_differ ? std::min(0.95, 0.8 + 0.05 * worst_effect) : 0.5;
  evidence.insert(evidence.begin(),
                  fmt::format("train and val differ after their own deterministic transforms "
                              "({} train and {} val images compared): largest |Δmean|/std {:.2f}, "
                              "largest std ratio {:.2f}",
                              it.size(0), iv.size(0), worst_effect, worst_ratio));
  evidence.push_back(fmt::format("train deterministic steps: {}",
                                 tp.describe().empty() ? "(none)" : tp.describe()));
  evidence.push_back(fmt::format("val deterministic steps: {}{}",
                                 vp.describe().empty() ? "(none)" : vp.describe(),
                                 steps_differ ? "" : " (same as train: the data itself differs)"));
  f.evidence = std::move(evidence);
  f.explanation =
      "The network is trained on inputs with one scale and offset and evaluated on inputs with "
      "another, so the validation loss is high or rises no matter how well training goes. "
      "Prepare both splits with the same deterministic steps (augmentations aside).";
  if (steps_differ && spec.val_transforms_given) {
    f.fix["data.transforms.val"] = transforms_to_yaml(train_steps);
  }
  return {f};
}

// ============================================================================ balance
std::vector<Finding> audit_balance(const data::Dataset& ds, const AuditOptions& opt) {
  if (ds.train.size() == 0 || ds.num_classes < 2) return {};
  auto count = [&](const data::Split& s) {
    if (s.size() == 0) return std::vector<int64_t>(static_cast<size_t>(ds.num_classes), 0);
    at::Tensor ok = bad_labels(s, ds.num_classes).logical_not();
    return to_vec(
        at::bincount(s.labels.index_select(0, ok.nonzero().view(-1)), {}, ds.num_classes));
  };
  auto ct = count(ds.train), cv = count(ds.val);
  auto [mn, mx] = std::minmax_element(ct.begin(), ct.end());
  const double ratio = *mn > 0 ? static_cast<double>(*mx) / *mn : INFINITY;
  if (ratio <= opt.imbalance_ratio) return {};
  auto name = [&](int64_t c) {
    return c < static_cast<int64_t>(ds.class_names.size()) ? ds.class_names[c] : std::to_string(c);
  };
  std::string tr, va;
  for (int64_t c = 0; c < ds.num_classes; ++c) {
    tr += fmt::format("{}{}: {}", c ? ", " : "", name(c), ct[c]);
    va += fmt::format("{}{}: {}", c ? ", " : "", name(c), cv[c]);
  }
  Finding f;
  f.cause = "class_imbalance";
  f.severity = "warning";
  f.confidence =
      std::isinf(ratio) ? 0.9 : std::min(0.9, 0.5 + 0.04 * (ratio - opt.imbalance_ratio));
  f.evidence.push_back(fmt::format(
      "largest train class {} ({} samples) is {} the smallest {} ({} samples)",
      name(mx - ct.begin()), *mx,
      std::isinf(ratio) ? std::string("infinitely larger than") : fmt::format("{:.1f}×", ratio),
      name(mn - ct.begin()), *mn));
  f.evidence.push_back("train counts: " + tr);
  f.evidence.push_back("val counts: " + va);
  f.explanation =
      "With a few classes dominating, the loss is minimised mostly by predicting them, so the "
      "rare classes stay unlearned and the loss plateaus above what the data allows. Rebalance "
      "the training set (more data, oversampling) or weight the loss by class frequency.";
  return {f};
}

// ============================================================================ all
AuditResult run_checks(const data::Dataset& ds, const spec::DataSpec& spec,
                       const AuditOptions& opt) {
  AuditResult r;
  auto last = std::chrono::steady_clock::now();
  const bool timing = std::getenv("LOSSDOCTOR_AUDIT_TIMING") != nullptr;
  auto add = [&](std::vector<Finding> v) {
    for (auto& f : v) r.findings.push_back(std::move(f));
    if (timing) {
      const auto now = std::chrono::steady_clock::now();
      fmt::print(stderr, "audit check: {:.3f} s\n",
                 std::chrono::duration<double>(now - last).count());
      last = now;
    }
  };
  add(audit_integrity(ds, opt));
  add(audit_outliers(ds, opt));
  add(audit_duplicates(ds, &r.notes, opt));
  add(audit_ordering(ds, spec.shuffle, opt));
  add(audit_preparation(ds, spec, opt));
  add(audit_balance(ds, opt));
  std::stable_sort(r.findings.begin(), r.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  return r;
}

}  // namespace lossdoctor::audit
