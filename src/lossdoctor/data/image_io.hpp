#pragma once
// Writing single images (tests that build folder data sets, reports that show flagged samples).

#include <ATen/core/Tensor.h>

#include <string>

namespace lossdoctor::data {

/// Writes `image` ([C, H, W] with C = 1 or 3, any dtype; values rounded and clamped to 0..255,
/// NaN written as 0) to `path`; the extension picks the format (.png, .jpg, .jpeg, .bmp).
/// Channels are RGB order. Throws DataError(path, ...) when the file cannot be written.
void save_image(const std::string& path, const at::Tensor& image);

}  // namespace lossdoctor::data
