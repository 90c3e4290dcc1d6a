#include "lossdoctor/data/dataset.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unordered_set>

#include "lossdoctor/data/readers.hpp"
#include "lossdoctor/data/rng.hpp"
#include "lossdoctor/util/errors.hpp"

namespace fs = std::filesystem;

namespace lossdoctor::data {
namespace {

using detail::mix_seed;

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || base.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base) / p).string();
}

std::vector<int64_t> to_vector(const at::Tensor& labels) {
  const at::Tensor c = labels.contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

/// The samples at `positions` (in that order).
Split select(const Split& s, const std::vector<int64_t>& positions) {
  Split out;
  const at::Tensor idx = at::tensor(at::ArrayRef<int64_t>(positions), at::kLong);
  out.images = s.images.index_select(0, idx);
  out.labels = s.labels.index_select(0, idx);
  out.source_index.reserve(positions.size());
  for (int64_t p : positions) out.source_index.push_back(s.source_index[p]);
  if (!s.source_paths.empty()) {
    out.source_paths.reserve(positions.size());
    for (int64_t p : positions) out.source_paths.push_back(s.source_paths[p]);
  }
  return out;
}

/// k positions chosen per class in proportion to the class counts (largest remainder), seeded,
/// returned in ascending order (the split's original order).
std::vector<int64_t> stratified_choice(const std::vector<int64_t>& labels, int64_t num_classes,
                                       int64_t k, std::mt19937_64& rng) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);
  std::vector<int64_t> quota(by_class.size());
  std::vector<std::pair<int64_t, int64_t>> remainders;  // (-remainder, class): sorted = priority
  int64_t assigned = 0;
  for (size_t c = 0; c < by_class.size(); ++c) {
    const int64_t count = static_cast<int64_t>(by_class[c].size());
    // k * count fits in int64 for any plausible split (k, count ≤ 1e8).
    quota[c] = k * count / n;
    assigned += quota[c];
    remainders.emplace_back(-(k * count % n), static_cast<int64_t>(c));
  }
  std::sort(remainders.begin(), remainders.end());
  for (size_t r = 0; assigned < k && r < remainders.size(); ++r) {
    const auto c = static_cast<size_t>(remainders[r].second);
    if (quota[c] < static_cast<int64_t>(by_class[c].size())) {
      ++quota[c];
      ++assigned;
    }
  }
  std::vector<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(k));
  for (size_t c = 0; c < by_class.size(); ++c) {
    const auto& members = by_class[c];
    const auto picks =
        detail::sample_without_replacement(static_cast<int64_t>(members.size()), quota[c], rng);
    for (int64_t p : picks) chosen.push_back(members[p]);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

/// The source record indices listed in `file`, checked against the `records` of the whole split
/// as read (before limit), so that a list stays valid whatever subset is later drawn.
std::unordered_set<int64_t> read_exclude(const std::string& file, int64_t records) {
  std::ifstream in(file);
  if (!fs::exists(file)) throw DataError(file, "exclude file not found");
  if (fs::is_directory(file))
    throw DataError(file, "is a directory, not an exclude file (one sample index per line)");
  if (!in) throw DataError(file, "cannot read exclude file");
  std::unordered_set<int64_t> drop;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') continue;
    const auto end = line.find_last_not_of(" \t\r");
    const std::string text = line.substr(begin, end - begin + 1);
    int64_t value = 0;
    size_t used = 0;
    try {
      value = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const std::string where = fmt::format("{}:{}", file, line_no);
    if (used != text.size() || value < 0) {
      throw DataError(where, fmt::format("not a sample index: '{}' (expected one non-negative "
                                         "integer per line)",
                                         text));
    }
    if (value >= records) {
      throw DataError(where, fmt::format("sample index {} out of range: the split has {} records",
                                         value, records));
    }
    drop.insert(value);
  }
  return drop;
}

int64_t record_count(const Split& s) {
  int64_t records = 0;
  for (int64_t r : s.source_index) records = std::max(records, r + 1);
  return records;
}

/// Drops the samples whose source record index is in `drop`; `injected` positions (if given)
/// are renumbered for the kept samples, and those of dropped samples removed.
Split apply_exclude(const Split& s, const std::unordered_set<int64_t>& drop,
                    Injected* injected = nullptr) {
  if (drop.empty()) return s;
  std::vector<int64_t> keep;
  std::vector<int64_t> new_pos(s.source_index.size(), -1);
  keep.reserve(s.source_index.size());
  for (size_t i = 0; i < s.source_index.size(); ++i) {
    if (drop.count(s.source_index[i]) == 0) {
      new_pos[i] = static_cast<int64_t>(keep.size());
      keep.push_back(static_cast<int64_t>(i));
    }
  }
  if (injected != nullptr) {
    for (auto* list : {&injected->label_noise, &injected->corrupt}) {
      std::vector<int64_t> kept;
      for (int64_t p : *list) {
        if (new_pos[p] >= 0) kept.push_back(new_pos[p]);
      }
      *list = std::move(kept);
    }
  }
  return select(s, keep);
}

Split apply_limit(const Split& s, int64_t limit, int64_t num_classes, const std::string& source,
                  const char* split_name, std::mt19937_64& rng) {
  if (limit < 1) {
    throw DataError(source,
                    fmt::format("data.{}.limit must be at least 1, got {}", split_name, limit));
  }
  if (limit > s.size()) {
    throw DataError(source, fmt::format("data.{}.limit {} is larger than the split ({} samples)",
                                        split_name, limit, s.size()));
  }
  if (limit == s.size()) return s;
  return select(s, stratified_choice(to_vector(s.labels), num_classes, limit, rng));
}

void inject(Split& train, const spec::InjectSpec& spec, int64_t num_classes, uint64_t seed,
            Injected& injected) {
  for (size_t i = 0; i < spec.drop_classes.size(); ++i) {
    const int64_t c = spec.drop_classes[i];
    if (c >= 0 && c < num_classes) continue;
    // The spec's file:line:col of the item when the parser recorded it (a hand-built spec has
    // none).
    const std::string where =
        i < spec.drop_classes_where.size() ? spec.drop_classes_where[i].str() : std::string("spec");
    throw SpecError(where, fmt::format("data.inject.drop_classes.classes[{}]", i),
                    fmt::format("class {} does not exist: the data has {} classes (0–{})", c,
                                num_classes, num_classes - 1));
  }
  if (spec.drop_fraction > 0 && !spec.drop_classes.empty() && train.size() > 0) {
    // Class imbalance: keep only (1 − fraction) of each listed class, chosen at random.
    std::mt19937_64 rng(mix_seed(seed, detail::kTagDropClasses));
    const auto labels = to_vector(train.labels);
    std::vector<int64_t> keep;
    for (int64_t c = 0; c < num_classes; ++c) {
      std::vector<int64_t> members;
      for (size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] == c) members.push_back(static_cast<int64_t>(i));
      }
      const bool thinned = std::find(spec.drop_classes.begin(), spec.drop_classes.end(), c) !=
                           spec.drop_classes.end();
      if (!thinned) {
        keep.insert(keep.end(), members.begin(), members.end());
        continue;
      }
      const auto kept = static_cast<int64_t>(
          std::llround((1.0 - spec.drop_fraction) * static_cast<double>(members.size())));
      for (int64_t pick :
           detail::sample_without_replacement(static_cast<int64_t>(members.size()), kept, rng)) {
        keep.push_back(members[static_cast<size_t>(pick)]);
      }
    }
    std::sort(keep.begin(), keep.end());
    train = select(train, keep);
  }
  const int64_t n = train.size();
  auto count_for = [n](double fraction) {
    return std::min<int64_t>(n,
                             static_cast<int64_t>(std::llround(fraction * static_cast<double>(n))));
  };
  if (spec.label_noise > 0 && n > 0) {
    if (num_classes < 2) {
      throw DataError("data.inject.label_noise", "label noise needs at least 2 classes");
    }
    std::mt19937_64 rng(mix_seed(seed, detail::kTagLabelNoise));
    auto picks = detail::sample_without_replacement(n, count_for(spec.label_noise), rng);
    std::sort(picks.begin(), picks.end());
    train.labels = train.labels.contiguous();
    int64_t* labels = train.labels.data_ptr<int64_t>();
    for (int64_t i : picks) {
      const auto shift = 1 + static_cast<int64_t>(detail::uniform_below(
                                 rng, static_cast<uint64_t>(num_classes - 1)));
      labels[i] = (labels[i] + shift) % num_classes;  // always a different class
    }
    injected.label_noise = std::move(picks);
  }
  if (spec.corrupt > 0 && n > 0) {
    std::mt19937_64 rng(mix_seed(seed, detail::kTagCorrupt));
    auto picks = detail::sample_without_replacement(n, count_for(spec.corrupt), rng);
    std::sort(picks.begin(), picks.end());
    train.images = train.images.contiguous();
    const int64_t per = train.images.numel() / n;
    float* data = train.images.data_ptr<float>();
    for (int64_t i : picks) {
      float* img = data + i * per;
      switch (spec.corrupt_kind) {
        case spec::InjectSpec::CorruptKind::Zeros:
          std::fill(img, img + per, 0.0f);
          break;
        case spec::InjectSpec::CorruptKind::Saturate:
          std::fill(img, img + per, 255.0f);
          break;
        case spec::InjectSpec::CorruptKind::NaN:
          std::fill(img, img + per, std::nanf(""));
          break;
        case spec::InjectSpec::CorruptKind::Noise:
          for (int64_t p = 0; p < per; ++p) {
            img[p] = static_cast<float>(detail::uniform_below(rng, 256));
          }
          break;
      }
    }
    injected.corrupt = std::move(picks);
  }
}

/// sort_by_label: a stable sort of train by its final label; injected positions follow.
void sort_by_label(Split& train, Injected& injected) {
  const int64_t n = train.size();
  if (n == 0) return;
  const auto labels = to_vector(train.labels);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
  std::vector<int64_t> new_pos(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) new_pos[order[j]] = j;
  train = select(train, order);
  for (auto* list : {&injected.label_noise, &injected.corrupt}) {
    for (auto& i : *list) i = new_pos[i];
    std::sort(list->begin(), list->end());
  }
}

at::Tensor empty_like_split(const Split& like) {
  auto sizes = like.images.sizes().vec();
  sizes[0] = 0;
  return at::empty(sizes, at::kFloat);
}

}  // namespace

Dataset load_dataset(const spec::DataSpec& spec, uint64_t seed, const WarningSink& warn) {
  using Format = spec::DataSpec::Format;
  Dataset ds;
  std::string train_source, val_source;

  auto read = [&](const spec::SplitSpec& split, bool is_val, std::string& source) -> Split {
    switch (spec.format) {
      case Format::Idx: {
        source = resolve(spec.path, split.images);
        return detail::read_idx(source, resolve(spec.path, split.labels), ds.num_classes);
      }
      case Format::Cifar10: {
        std::vector<std::string> files;
        for (const auto& f : split.files) files.push_back(resolve(spec.path, f));
        source = files.empty() ? std::string("data") : files.front();
        return detail::read_cifar10(files, ds.num_classes);
      }
      case Format::Folder: {
        source = resolve(spec.path, split.path.empty() && !is_val ? std::string(".") : split.path);
        detail::FolderOptions options;
        options.channels = spec.channels;
        options.image_size = spec.image_size;
        options.skip_bad_images = spec.skip_bad_images;
        if (is_val && !spec.image_size && ds.train.size() > 0) {
          options.expected_size = {ds.train.images.size(2), ds.train.images.size(3)};
          options.expected_size_source = "the training images";
          options.channels = ds.train.images.size(1);
        }
        return detail::read_folder(source, ds.class_names, options, is_val, warn,
                                   &ds.skipped_bad_images);
      }
    }
    throw DataError("data.format", "unknown format");
  };

  // Classes.
  if (spec.format == Format::Folder) {
    const std::string root = resolve(spec.path, spec.train.path.empty() ? "." : spec.train.path);
    ds.class_names = detail::list_class_folders(root);
    ds.num_classes = static_cast<int64_t>(ds.class_names.size());
    if (spec.num_classes && *spec.num_classes != ds.num_classes) {
      throw DataError(root, fmt::format("has {} class folders but data.num_classes is {}",
                                        ds.num_classes, *spec.num_classes));
    }
  } else {
    ds.num_classes = spec.num_classes.value_or(10);
    for (int64_t c = 0; c < ds.num_classes; ++c) ds.class_names.push_back(std::to_string(c));
  }

  // Train: read; the exclude list is read (and checked against the whole file) now, applied last.
  // Limit, val carving and injection are decided on the split as read, so excluding samples never
  // re-draws which samples are kept or which labels are noisy: a retraining on the cleaned set
  // sees the same samples with the same (noisy or not) labels, minus the excluded ones.
  ds.train = read(spec.train, false, train_source);
  std::unordered_set<int64_t> train_drop, val_drop;
  if (!spec.train.exclude.empty()) {
    train_drop = read_exclude(resolve(spec.path, spec.train.exclude), record_count(ds.train));
  }

  // Val: read, or carve from train.
  bool val_carved = false;
  if (spec.val.present) {
    ds.val = read(spec.val, true, val_source);
    if (!spec.val.exclude.empty()) {
      val_drop = read_exclude(resolve(spec.path, spec.val.exclude), record_count(ds.val));
    }
  } else if (spec.split > 0) {
    const int64_t n = ds.train.size();
    const int64_t n_val = std::max<int64_t>(1, std::llround(spec.split * static_cast<double>(n)));
    if (n_val >= n) {
      throw DataError(train_source, fmt::format("data.split {} leaves no training samples ({} "
                                                "samples in all)",
                                                spec.split, n));
    }
    std::mt19937_64 rng(mix_seed(seed, detail::kTagCarveVal));
    const auto val_pos = stratified_choice(to_vector(ds.train.labels), ds.num_classes, n_val, rng);
    std::vector<int64_t> train_pos;
    train_pos.reserve(static_cast<size_t>(n - n_val));
    for (int64_t i = 0, v = 0; i < n; ++i) {
      if (v < n_val && val_pos[v] == i) {
        ++v;
      } else {
        train_pos.push_back(i);
      }
    }
    ds.val = select(ds.train, val_pos);
    ds.train = select(ds.train, train_pos);
    val_source = train_source;
    val_carved = true;
  } else {
    ds.val.images = empty_like_split(ds.train);
    ds.val.labels = at::empty({0}, at::kLong);
  }

  if (ds.val.size() > 0 && ds.val.images.sizes().slice(1) != ds.train.images.sizes().slice(1)) {
    throw DataError(val_source, fmt::format("val images are {} but train images are {} (C x H x W)",
                                            fmt::join(ds.val.images.sizes().slice(1), " x "),
                                            fmt::join(ds.train.images.sizes().slice(1), " x ")));
  }

  // Limits.
  if (spec.train.limit) {
    std::mt19937_64 rng(mix_seed(seed, detail::kTagLimitTrain));
    ds.train = apply_limit(ds.train, *spec.train.limit, ds.num_classes, train_source, "train", rng);
  }
  if (spec.val.present && spec.val.limit) {
    std::mt19937_64 rng(mix_seed(seed, detail::kTagLimitVal));
    ds.val = apply_limit(ds.val, *spec.val.limit, ds.num_classes, val_source, "val", rng);
  }

  // Deliberate faults, train only.
  inject(ds.train, spec.inject, ds.num_classes, seed, ds.injected);

  // Exclusions, after every random draw. A carved val holds records of the train file, so the
  // train list applies to it too.
  const int64_t before_exclude = ds.train.size();
  ds.train = apply_exclude(ds.train, train_drop, &ds.injected);
  ds.val = apply_exclude(ds.val, val_carved ? train_drop : val_drop);
  if (ds.train.size() == 0) {
    // Name what made the training split empty, not just that it is.
    if (before_exclude > 0)
      throw DataError(resolve(spec.path, spec.train.exclude),
                      fmt::format("excludes all {} training samples: nothing is left to train on",
                                  before_exclude));
    throw DataError(train_source.empty() ? "data.train" : train_source,
                    "the training split is empty (0 samples)");
  }
  if (spec.inject.sort_by_label) sort_by_label(ds.train, ds.injected);
  return ds;
}

std::string skipped_images_note(const Dataset& dataset) {
  const auto& skipped = dataset.skipped_bad_images;
  if (skipped.empty()) return "";
  return fmt::format(
      "data.skip_bad_images skipped {} truncated or undecodable image files (in neither split): "
      "{}{}",
      skipped.size(),
      fmt::join(skipped.begin(), skipped.begin() + std::min<size_t>(3, skipped.size()), ", "),
      skipped.size() > 3 ? fmt::format(", … ({} more)", skipped.size() - 3) : "");
}

}  // namespace lossdoctor::data
