#pragma once
// File-format readers behind load_dataset (private to the data stage).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lossdoctor/data/dataset.hpp"

namespace lossdoctor::data::detail {

/// Reads an IDX image file (magic 0x00000803) and label file (0x00000801), raw or gzip.
/// Labels must lie in [0, num_classes).
Split read_idx(const std::string& images_path, const std::string& labels_path, int64_t num_classes);

/// Reads CIFAR-10 binary batches (records of 1 label byte + 3072 CHW pixel bytes), concatenated
/// in the order given. Labels must lie in [0, num_classes).
Split read_cifar10(const std::vector<std::string>& paths, int64_t num_classes);

/// Sorted names of the sub-folders of `root` (the class names of a folder data set).
std::vector<std::string> list_class_folders(const std::string& root);

struct FolderOptions {
  std::optional<int64_t> channels;                        ///< 1 or 3; default: first image
  std::optional<std::pair<int64_t, int64_t>> image_size;  ///< {h, w}: resize on load
  bool skip_bad_images = false;
  /// When set (val split), every image must match this {h, w} unless image_size is given.
  std::optional<std::pair<int64_t, int64_t>> expected_size;
  std::string expected_size_source;  ///< file the expected size came from, for messages
};

/// Reads `root/<class>/<image>` for every class in `classes` (label = position in `classes`).
/// With `allow_missing_classes`, a class without a sub-folder is skipped (val); a sub-folder
/// that is not in `classes` is an error then. A bad image (truncated, see image_check.hpp, or
/// undecodable) is a DataError naming it, or with skip_bad_images a warning, and its path is
/// appended to `skipped` (when not null).
Split read_folder(const std::string& root, const std::vector<std::string>& classes,
                  const FolderOptions& options, bool allow_missing_classes, const WarningSink& warn,
                  std::vector<std::string>* skipped = nullptr);

}  // namespace lossdoctor::data::detail
