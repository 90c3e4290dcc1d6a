// Data audit checks (see checks.hpp for the contracts, docs/audit.md for the method).
#include "lossdoctor/audit/checks.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "lossdoctor/audit/noise_share.hpp"
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

at::Tensor bad_labels(const data::Split& s, int64_t num_classes) {
  if (s.size() == 0) return at::zeros({0}, at::kBool);
  return s.labels.lt(0) | s.labels.ge(num_classes);
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

// ---- per-image statistics (one pass, shared by integrity, outliers and duplicates) ----

/// Per-image statistics of one split, from one pass over its contiguous float pixels. Values are
/// rounded through float where the float32 tensor reductions they replace rounded, so the checks
/// see the same numbers as before the pass was shared.
struct SplitStats {
  int64_t n = 0;
  at::Tensor images;                    ///< contiguous float [N, C, H, W] the stats describe
  std::vector<uint8_t> finite;          ///< 1 when every pixel is finite
  std::vector<float> min, max;          ///< over the finite pixels (±inf when there are none)
  std::vector<int32_t> at_min, at_max;  ///< finite images: pixels equal to min / max
  std::vector<double> mean, stddev;     ///< finite images (0 otherwise); population std
  std::vector<double> grad_energy;      ///< finite images: mean |dx| + mean |dy| (0 otherwise)
  std::vector<uint64_t> byte_hash;      ///< finite images: hash of the float bytes (0 otherwise)

  /// Integrity flag of image i: a non-finite pixel or a constant image.
  bool unusable(int64_t i) const { return !finite[i] || stddev[i] <= 0.0; }
};

/// Smallest and largest finite pixel over the given splits ({0, 0} when there is none).
std::pair<double, double> finite_range(std::initializer_list<const SplitStats*> splits) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (const SplitStats* st : splits) {
    for (int64_t i = 0; i < st->n; ++i) {
      lo = std::min(lo, st->min[i]);
      hi = std::max(hi, st->max[i]);
    }
  }
  if (!std::isfinite(lo)) return {0.0, 0.0};
  return {lo, hi};
}

/// Σ |a[k] − b[k]| over k < len (in four lanes, so the adds do not wait on each other).
double sum_abs_diff(const float* a, const float* b, int64_t len) {
  double lanes[4] = {0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 4 <= len; k += 4) {
    for (int l = 0; l < 4; ++l) lanes[l] += std::fabs(a[k + l] - b[k + l]);
  }
  for (; k < len; ++k) lanes[0] += std::fabs(a[k] - b[k]);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

/// Fills the stats of image i from its `channels * height * width` pixels at `p`.
void describe_image(const float* p, int64_t channels, int64_t height, int64_t width, int64_t i,
                    SplitStats& st) {
  const int64_t count = channels * height * width;
  // Pass 1: sums around the first pixel (a stable variance), minimum and maximum. A non-finite
  // pixel makes the sums non-finite, which sends the image to the slow path below.
  // Four independent lanes keep the adds from waiting on each other (exact for integer pixels).
  const double shift = std::isfinite(p[0]) ? p[0] : 0.0;
  constexpr int kLanes = 4;
  double s1l[kLanes] = {0, 0, 0, 0}, s2l[kLanes] = {0, 0, 0, 0};
  float mnl[kLanes] = {p[0], p[0], p[0], p[0]}, mxl[kLanes] = {p[0], p[0], p[0], p[0]};
  int64_t k = 0;
  for (; k + kLanes <= count; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float v = p[k + l];
      const double d = static_cast<double>(v) - shift;
      s1l[l] += d;
      s2l[l] += d * d;
      mnl[l] = v < mnl[l] ? v : mnl[l];
      mxl[l] = v > mxl[l] ? v : mxl[l];
    }
  }
  for (; k < count; ++k) {
    const float v = p[k];
    const double d = static_cast<double>(v) - shift;
    s1l[0] += d;
    s2l[0] += d * d;
    mnl[0] = v < mnl[0] ? v : mnl[0];
    mxl[0] = v > mxl[0] ? v : mxl[0];
  }
  const double s1 = (s1l[0] + s1l[1]) + (s1l[2] + s1l[3]);
  const double s2 = (s2l[0] + s2l[1]) + (s2l[2] + s2l[3]);
  float mn = mnl[0], mx = mxl[0];
  for (int l = 1; l < kLanes; ++l) {
    mn = mnl[l] < mn ? mnl[l] : mn;
    mx = mxl[l] > mx ? mxl[l] : mx;
  }
  if (!std::isfinite(s1) || !std::isfinite(s2)) {
    // Non-finite image: only its finite range matters (it counts in the split's range).
    float fmn = std::numeric_limits<float>::infinity(), fmx = -fmn;
    for (int64_t k = 0; k < count; ++k) {
      if (std::isfinite(p[k])) {
        fmn = std::min(fmn, p[k]);
        fmx = std::max(fmx, p[k]);
      }
    }
    st.finite[i] = 0;
    st.min[i] = fmn;
    st.max[i] = fmx;
    return;
  }
  const double m1 = s1 / static_cast<double>(count);
  const double var = std::max(0.0, s2 / static_cast<double>(count) - m1 * m1);
  st.finite[i] = 1;
  st.min[i] = mn;
  st.max[i] = mx;
  st.mean[i] = static_cast<float>(shift + m1);
  st.stddev[i] = mn == mx ? 0.0 : static_cast<double>(static_cast<float>(std::sqrt(var)));
  // Pass 2 (the image is in cache now): pixels at the extremes, neighbour differences.
  int32_t at_mn = 0, at_mx = 0;
  double dx = 0, dy = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = p + c * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const float* row = plane + y * width;
      for (int64_t x = 0; x < width; ++x) {
        at_mn += row[x] == mn;
        at_mx += row[x] == mx;
      }
      dx += sum_abs_diff(row + 1, row, width - 1);
      if (y + 1 < height) dy += sum_abs_diff(row + width, row, width);
    }
  }
  st.at_min[i] = at_mn;
  st.at_max[i] = at_mx;
  // As the float32 means did: float sum / float count, then float addition.
  float energy = 0.0f;
  if (width > 1) {
    energy += static_cast<float>(dx) / static_cast<float>(channels * height * (width - 1));
  }
  if (height > 1) {
    energy += static_cast<float>(dy) / static_cast<float>(channels * (height - 1) * width);
  }
  st.grad_energy[i] = energy;
  st.byte_hash[i] = hash_bytes(p, count);
}

/// The statistics of every image of `s`, in parallel over images (at::parallel_for).
SplitStats split_stats(const data::Split& s) {
  SplitStats st;
  st.n = s.size();
  const auto n = static_cast<size_t>(st.n);
  st.finite.assign(n, 0);
  st.min.assign(n, 0.0f);
  st.max.assign(n, 0.0f);
  st.at_min.assign(n, 0);
  st.at_max.assign(n, 0);
  st.mean.assign(n, 0.0);
  st.stddev.assign(n, 0.0);
  st.grad_energy.assign(n, 0.0);
  st.byte_hash.assign(n, 0);
  if (st.n == 0) return st;
  st.images = s.images.contiguous();
  const int64_t channels = st.images.size(1), height = st.images.size(2), width = st.images.size(3);
  const int64_t per = channels * height * width;
  if (per == 0) {
    std::fill(st.finite.begin(), st.finite.end(), 1);  // empty images: finite and constant
    return st;
  }
  const float* data = st.images.data_ptr<float>();
  at::parallel_for(0, st.n, 512, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      describe_image(data + i * per, channels, height, width, i, st);
    }
  });
  return st;
}

/// The outlier features of a split as tensors: brightness, contrast, saturation fraction (share
/// of pixels at the split's finite min or max) and high-frequency energy (grad_energy / std).
struct ImageStats {
  at::Tensor finite;  ///< bool [N]: every pixel finite
  at::Tensor mean;    ///< double [N]
  at::Tensor stddev;  ///< double [N]
  at::Tensor sat;     ///< double [N] (finite images; 0 otherwise)
  at::Tensor hf;      ///< double [N]: grad_energy / (std + 1e-6)
  double lo = 0, hi = 0;
};

ImageStats outlier_features(const SplitStats& st) {
  ImageStats out;
  std::tie(out.lo, out.hi) = finite_range({&st});
  const auto lo = static_cast<float>(out.lo), hi = static_cast<float>(out.hi);
  std::vector<double> sat(static_cast<size_t>(st.n), 0.0), hf(static_cast<size_t>(st.n), 0.0);
  const float pixels = st.n > 0 ? static_cast<float>(st.images.numel() / st.n) : 1.0f;
  for (int64_t i = 0; i < st.n; ++i) {
    if (!st.finite[i]) continue;
    // Every pixel of a finite image lies in [lo, hi], so "at or beyond an end" is "at the image's
    // min (max) when that is lo (hi)".
    const int32_t at_ends =
        lo == hi ? static_cast<int32_t>(pixels)
                 : (st.min[i] <= lo ? st.at_min[i] : 0) + (st.max[i] >= hi ? st.at_max[i] : 0);
    sat[i] = static_cast<float>(at_ends) / pixels;
    hf[i] = st.grad_energy[i] / (st.stddev[i] + 1e-6);
  }
  auto doubles = [](const std::vector<double>& v) {
    return at::tensor(v, at::TensorOptions().dtype(at::kDouble));
  };
  out.finite =
      at::tensor(std::vector<int64_t>(st.finite.begin(), st.finite.end()), at::kLong).to(at::kBool);
  out.mean = doubles(st.mean);
  out.stddev = doubles(st.stddev);
  out.sat = doubles(sat);
  out.hf = doubles(hf);
  return out;
}

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
namespace {

std::vector<Finding> integrity_from(const data::Dataset& ds, const SplitStats& train_stats,
                                    const SplitStats& val_stats, const AuditOptions& opt) {
  std::vector<std::string> evidence;
  std::vector<int64_t> train_flagged;
  int64_t total_train = 0, total_val = 0;
  for (int which = 0; which < 2; ++which) {
    const auto& s = which == 0 ? ds.train : ds.val;
    const char* name = which == 0 ? "train" : "val";
    if (s.size() == 0) continue;
    const SplitStats& st = which == 0 ? train_stats : val_stats;
    const auto badlab = to_vec(bad_labels(s, ds.num_classes).to(at::kLong));
    std::vector<int64_t> nf, cst, bl, any;
    for (int64_t i = 0; i < s.size(); ++i) {
      const bool nonfinite = !st.finite[i], constant = st.finite[i] && st.stddev[i] <= 0.0;
      if (nonfinite) nf.push_back(i);
      if (constant) cst.push_back(i);
      if (badlab[i]) bl.push_back(i);
      if (nonfinite || constant || badlab[i]) any.push_back(i);
    }
    const double n = static_cast<double>(s.size());
    if (!nf.empty()) {
      evidence.push_back(fmt::format("{} {} images ({:.2f}%) contain NaN/Inf pixels: {}", nf.size(),
                                     name, 100.0 * nf.size() / n, list_preview(nf)));
    }
    if (!cst.empty()) {
      // Which constants: 0, max, other.
      int64_t zeros = 0, full = 0;
      for (int64_t i : cst) {
        const double v = st.mean[i];
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
    const auto count = static_cast<int64_t>(any.size());
    if (which == 0) {
      total_train = count;
      train_flagged = std::move(any);
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
  f.samples = std::move(train_flagged);
  abbreviate_samples(f, opt.max_samples);
  return {f};
}

// ============================================================================ outliers

struct OutlierScores {
  at::Tensor zmax;    ///< double [N]: largest |z| over the features (0 where not scored)
  at::Tensor which;   ///< long [N]: feature index of zmax
  at::Tensor scored;  ///< bool [N]
};

const char* kFeatureNames[] = {"brightness (mean)", "contrast (std)", "saturation fraction",
                               "high-frequency energy"};

OutlierScores outlier_scores(const data::Dataset& ds, const ImageStats& st,
                             const AuditOptions& opt) {
  const auto& s = ds.train;
  const int64_t n = s.size();
  OutlierScores out;
  at::Tensor feats = at::stack({st.mean, st.stddev, st.sat, st.hf}, 1);  // [N, 4]
  // Scored: images integrity does not flag (finite, not constant, valid label).
  at::Tensor ok = st.finite & st.stddev.gt(0.0) & bad_labels(s, ds.num_classes).logical_not();
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
  return out;
}

std::vector<Finding> outliers_from(const data::Dataset& ds, const SplitStats& train_stats,
                                   const AuditOptions& opt) {
  if (ds.train.size() == 0) return {};
  const ImageStats st = outlier_features(train_stats);
  auto sc = outlier_scores(ds, st, opt);
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
  f.samples = std::move(sorted);
  abbreviate_samples(f, opt.max_samples);
  return {f};
}

// ============================================================================ duplicates
/// The 8×8 average-pooled channel mean of every image of a split ([N, 64]).
at::Tensor thumbnails(const SplitStats& st) {
  const at::Tensor gray = st.images.size(1) == 1 ? st.images : st.images.mean(1, true);
  return at::adaptive_avg_pool2d(gray, {8, 8}).reshape({st.n, 64});
}

std::vector<Finding> duplicates_from(const data::Dataset& ds, const SplitStats& train_stats,
                                     const SplitStats& val_stats, std::vector<AuditNote>* notes,
                                     const AuditOptions& opt) {
  const int64_t nt = ds.train.size(), nv = ds.val.size();
  if (nt == 0) return {};
  const bool use_val = nv > 0 && ds.val.images.sizes().slice(1) == ds.train.images.sizes().slice(1);
  // Positions 0..nt-1 are train, nt.. val; nothing is concatenated but labels and thumbnails.
  const int64_t n = use_val ? nt + nv : nt;
  auto labels = to_vec(use_val ? at::cat({ds.train.labels, ds.val.labels}, 0) : ds.train.labels);
  auto stats_of = [&](int64_t i) -> std::pair<const SplitStats*, int64_t> {
    return i < nt ? std::make_pair(&train_stats, i) : std::make_pair(&val_stats, i - nt);
  };
  std::vector<char> skip(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto [st, k] = stats_of(i);
    skip[i] = st->unusable(k);
  }
  const auto [lo, hi] =
      use_val ? finite_range({&train_stats, &val_stats}) : finite_range({&train_stats});
  const double range = std::max(hi - lo, 1e-6);

  // Exact duplicates: hash of the bytes, confirmed with memcmp.
  const int64_t per = ds.train.images[0].numel();
  auto pixels = [&](int64_t i) {
    auto [st, k] = stats_of(i);
    return st->images.data_ptr<float>() + k * per;
  };
  UnionFind uf(n);
  std::vector<char> exact_member(static_cast<size_t>(n), 0);
  {
    std::unordered_map<uint64_t, int64_t> first;
    first.reserve(static_cast<size_t>(n) * 2);
    for (int64_t i = 0; i < n; ++i) {
      if (skip[i]) continue;
      auto [st, k] = stats_of(i);
      auto [it, inserted] = first.emplace(st->byte_hash[k], i);
      if (!inserted && std::memcmp(pixels(it->second), pixels(i), per * sizeof(float)) == 0) {
        uf.unite(it->second, i);
        exact_member[i] = exact_member[it->second] = 1;
      }
    }
  }
  // Near duplicates: 64-bit average hash of an 8×8 thumbnail; candidate pairs are neighbours
  // after sorting by five rotations of the hash (each 13-bit block leading once), confirmed by
  // Hamming distance and the thumbnails' mean absolute difference.
  // Non-finite images give NaN thumbnails, but they are skipped.
  at::Tensor thumb = use_val ? at::cat({thumbnails(train_stats), thumbnails(val_stats)}, 0)
                             : thumbnails(train_stats);
  thumb = thumb.contiguous();
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
  // (rotated hash, position) pairs sorted in place: the neighbours' hashes are read in order,
  // and a rotation keeps Hamming distances.
  std::vector<std::pair<uint64_t, int64_t>> keyed(order.size());
  for (int r = 0; r < 5; ++r) {
    const int rot = 13 * r;
    for (size_t a = 0; a < order.size(); ++a) {
      const uint64_t h = hash[order[a]];
      keyed[a] = {rot == 0 ? h : (h << rot) | (h >> (64 - rot)), order[a]};
    }
    std::sort(keyed.begin(), keyed.end());
    for (size_t a = 0; a < keyed.size(); ++a) {
      for (size_t b = a + 1; b < keyed.size() && b <= a + kWindow; ++b) {
        if (__builtin_popcountll(keyed[a].first ^ keyed[b].first) > opt.near_hamming) continue;
        const int64_t i = keyed[a].second, j = keyed[b].second;
        if (uf.find(i) == uf.find(j)) continue;
        // Partial sums only grow, so a pair can be dropped as soon as one is too far.
        double diff = 0;
        bool too_far = false;
        for (int k = 0; k < 64 && !too_far; k += 8) {
          for (int l = k; l < k + 8; ++l) diff += std::fabs(th[i * 64 + l] - th[j * 64 + l]);
          too_far = diff / 64.0 > opt.near_thumb_diff * range;
        }
        if (too_far) continue;
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
  f.samples = std::move(conflict_train);
  abbreviate_samples(f, opt.max_samples);
  return {f};
}

}  // namespace

std::vector<Finding> audit_integrity(const data::Dataset& ds, const AuditOptions& opt) {
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  return integrity_from(ds, split_stats(ds.train), split_stats(ds.val), opt);
}

std::vector<Finding> audit_outliers(const data::Dataset& ds, const AuditOptions& opt) {
  check_images(ds.train, "train");
  return outliers_from(ds, split_stats(ds.train), opt);
}

std::vector<Finding> audit_duplicates(const data::Dataset& ds, std::vector<AuditNote>* notes,
                                      const AuditOptions& opt) {
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  return duplicates_from(ds, split_stats(ds.train), split_stats(ds.val), notes, opt);
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
std::vector<int64_t> class_counts(const data::Split& s, int64_t num_classes) {
  if (s.size() == 0) return std::vector<int64_t>(static_cast<size_t>(num_classes), 0);
  at::Tensor ok = bad_labels(s, num_classes).logical_not();
  return to_vec(at::bincount(s.labels.index_select(0, ok.nonzero().view(-1)), {}, num_classes));
}

std::string class_name(const data::Dataset& ds, int64_t c) {
  return c >= 0 && c < static_cast<int64_t>(ds.class_names.size())
             ? ds.class_names[static_cast<size_t>(c)]
             : std::to_string(c);
}

std::vector<Finding> audit_balance(const data::Dataset& ds, const AuditOptions& opt) {
  if (ds.train.size() == 0 || ds.num_classes < 2) return {};
  auto ct = class_counts(ds.train, ds.num_classes), cv = class_counts(ds.val, ds.num_classes);
  auto [mn, mx] = std::minmax_element(ct.begin(), ct.end());
  const double ratio = *mn > 0 ? static_cast<double>(*mx) / *mn : INFINITY;
  const auto name = [&](int64_t c) { return class_name(ds, c); };
  Finding f;
  f.cause = "class_imbalance";
  if (ratio > opt.imbalance_ratio) {
    f.severity = "warning";
    f.confidence =
        std::isinf(ratio) ? 0.9 : std::min(0.9, 0.5 + 0.04 * (ratio - opt.imbalance_ratio));
    f.evidence.push_back(fmt::format(
        "largest train class {} ({} samples) is {} the smallest {} ({} samples)",
        name(mx - ct.begin()), *mx,
        std::isinf(ratio) ? std::string("infinitely larger than") : fmt::format("{:.1f}×", ratio),
        name(mn - ct.begin()), *mn));
    f.explanation =
        "With a few classes dominating, the loss is minimised mostly by predicting them, so the "
        "rare classes stay unlearned and the loss plateaus above what the data allows. Rebalance "
        "the training set (more data, oversampling) or weight the loss by class frequency.";
  } else {
    // Milder, but the training proportions are not the validation set's: worth a rerun.
    const double nt = static_cast<double>(ds.train.size());
    const auto nv = static_cast<double>(std::accumulate(cv.begin(), cv.end(), int64_t{0}));
    int64_t worst = -1;
    double worst_ratio = opt.shift_share_ratio;
    for (int64_t c = 0; c < ds.num_classes && nv > 0; ++c) {
      if (cv[c] < opt.shift_min_val_images) continue;
      const double r = (static_cast<double>(ct[c]) / nt) / (static_cast<double>(cv[c]) / nv);
      if (r < worst_ratio) worst = c, worst_ratio = r;
    }
    if (worst < 0) return {};
    f.severity = "info";
    f.confidence = opt.shift_confidence;
    f.evidence.push_back(fmt::format(
        "class {} is {:.1f}% of the training split but {:.1f}% of the validation split ({:.2f}× "
        "its share; largest / smallest train class {:.1f}×)",
        name(worst), 100.0 * static_cast<double>(ct[worst]) / nt,
        100.0 * static_cast<double>(cv[worst]) / nv, worst_ratio, ratio));
    f.explanation =
        "The model is trained on other class proportions than it is judged on: the "
        "under-represented classes are predicted less often than the validation set needs. "
        "Rebalance the training set (oversampling) or weight the loss by class frequency.";
  }
  std::string tr, va;
  for (int64_t c = 0; c < ds.num_classes; ++c) {
    tr += fmt::format("{}{}: {}", c ? ", " : "", name(c), ct[c]);
    va += fmt::format("{}{}: {}", c ? ", " : "", name(c), cv[c]);
  }
  f.evidence.push_back("train counts: " + tr);
  f.evidence.push_back("val counts: " + va);
  return {f};
}

size_t abbreviate_samples(Finding& f, size_t max_samples, const std::string& where_all) {
  if (f.samples.size() <= max_samples) return 0;
  const size_t total = f.samples.size(), omitted = total - max_samples;
  f.samples.resize(max_samples);
  f.samples_omitted = static_cast<int64_t>(omitted);
  f.evidence.push_back(fmt::format("samples lists the first {} of {} flagged ({} omitted{}{})",
                                   max_samples, total, omitted, where_all.empty() ? "" : "; ",
                                   where_all));
  return omitted;
}

// ============================================================================ all
AuditResult run_checks(const data::Dataset& ds, const spec::DataSpec& spec,
                       const AuditOptions& opt) {
  AuditResult r;
  auto last = std::chrono::steady_clock::now();
  const bool timing = std::getenv("LOSSDOCTOR_AUDIT_TIMING") != nullptr;
  auto add = [&](const char* phase, std::vector<Finding> v) {
    for (auto& f : v) r.findings.push_back(std::move(f));
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - last).count();
    r.phase_seconds.emplace_back(phase, secs);
    if (timing) fmt::print(stderr, "audit check {}: {:.3f} s\n", phase, secs);
    last = now;
  };
  check_images(ds.train, "train");
  check_images(ds.val, "val");
  // One pass over the pixels per split, shared by integrity, outliers and duplicates.
  const SplitStats train_stats = split_stats(ds.train), val_stats = split_stats(ds.val);
  add("stats", {});
  add("integrity", integrity_from(ds, train_stats, val_stats, opt));
  add("outliers", outliers_from(ds, train_stats, opt));
  add("duplicates", duplicates_from(ds, train_stats, val_stats, &r.notes, opt));
  add("ordering", audit_ordering(ds, spec.shuffle, opt));
  add("preparation", audit_preparation(ds, spec, opt));
  add("balance", audit_balance(ds, opt));
  add("noise share", audit_noise_share(ds, {}, opt.max_samples));
  std::stable_sort(r.findings.begin(), r.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confidence > b.confidence; });
  return r;
}

}  // namespace lossdoctor::audit
