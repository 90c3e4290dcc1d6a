#pragma once
// Loading a data set described by spec::DataSpec into memory, with stratified limits,
// exclusions and the deliberate faults of `data.inject`.
//
// Contract:
//   requires: spec validated by the spec parser (paths already resolved).
//   ensures:  train and val images are float32 [N, C, H, W] holding the raw pixel values of the
//             source (0..255 for 8-bit files; NaN/odd values only where injected), labels are
//             int64 [N] in [0, num_classes). Same spec + seed → identical tensors.
//             Order: read → [carve val] → limit → inject → exclude → sort_by_label, so excluding
//             samples never changes which other samples are kept or what was injected into them.
//             Injected indices are positions in the final train split (after limit, exclude and
//             sort_by_label).
//   throws:   DataError naming the file (and record or path) for: missing/unreadable file, wrong
//             magic, truncated file or gzip stream, damaged gzip data (CRC or length check
//             failed), bytes after the records an IDX header declares, image/label count
//             mismatch, label out of range, truncated or undecodable image (unless
//             skip_bad_images: then skipped, warned and listed in skipped_bad_images), empty
//             class folder, images of different sizes without data.image_size, limit larger
//             than the split, an empty training split (naming the exclude file when it is what
//             emptied it).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::data {

struct Split {
  at::Tensor images;                      ///< float32 [N, C, H, W], raw values
  at::Tensor labels;                      ///< int64 [N]
  std::vector<int64_t> source_index;      ///< record index in the source file / folder listing
  std::vector<std::string> source_paths;  ///< folder format: file per sample; empty otherwise
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// What data.inject did, so reports and benchmarks can score against it.
struct Injected {
  std::vector<int64_t> label_noise;  ///< train positions whose label was replaced
  std::vector<int64_t> corrupt;      ///< train positions whose image was corrupted
};

struct Dataset {
  Split train, val;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< folder names, or "0".."9"
  Injected injected;
  /// Folder format with data.skip_bad_images: the files skipped as truncated or undecodable
  /// (train folder, then val folder); its size is the count reports show. Empty otherwise.
  std::vector<std::string> skipped_bad_images;
};

using WarningSink = std::function<void(const std::string&)>;

Dataset load_dataset(const spec::DataSpec& spec, uint64_t seed, const WarningSink& warn = {});

/// The report note for skipped_bad_images (their count and the first three), or "" when none
/// was skipped: not in the data at all, so no check sees them and the note is their only trace.
std::string skipped_images_note(const Dataset& dataset);

}  // namespace lossdoctor::data
