#include "lossdoctor/data/image_io.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::data {

void save_image(const std::string& path, const at::Tensor& image) {
  if (image.dim() != 3 || (image.size(0) != 1 && image.size(0) != 3)) {
    throw DataError(path, fmt::format("save_image: expected [C, H, W] with C = 1 or 3, got [{}]",
                                      fmt::join(image.sizes(), ", ")));
  }
  const at::Tensor hwc = at::nan_to_num(image.to(at::kFloat), 0.0)
                             .round()
                             .clamp(0, 255)
                             .to(at::kByte)
                             .permute({1, 2, 0})
                             .contiguous();
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1));
  const int c = static_cast<int>(hwc.size(2));
  cv::Mat mat(h, w, c == 1 ? CV_8UC1 : CV_8UC3, hwc.data_ptr<uint8_t>());
  cv::Mat out;
  if (c == 3) {
    cv::cvtColor(mat, out, cv::COLOR_RGB2BGR);
  } else {
    out = mat;
  }
  bool ok = false;
  try {
    ok = cv::imwrite(path, out);
  } catch (const cv::Exception& e) {
    throw DataError(path, fmt::format("cannot write image: {}", e.what()));
  }
  if (!ok) throw DataError(path, "cannot write image");
}

}  // namespace lossdoctor::data
