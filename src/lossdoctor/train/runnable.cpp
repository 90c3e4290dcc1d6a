#include "lossdoctor/train/runnable.hpp"

#include <fmt/format.h>

#include "lossdoctor/data/pipeline.hpp"
#include "lossdoctor/model/plan.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/memory.hpp"

namespace lossdoctor::train {

std::vector<int64_t> check_runnable(const spec::Spec& spec, const data::Dataset& dataset) {
  if (dataset.train.size() == 0) throw InputError("data: the training split is empty");
  const auto& images = dataset.train.images;
  const data::Shape3 in{images.size(1), images.size(2), images.size(3)};
  const data::Shape3 out = data::make_train_pipeline(spec.data).check(in);
  if (dataset.val.size() > 0) {
    const auto& val = dataset.val.images;
    const data::Shape3 val_out =
        data::make_val_pipeline(spec.data).check({val.size(1), val.size(2), val.size(3)});
    if (val_out != out) {
      throw SpecError(spec.file, "data.transforms",
                      fmt::format("training images come out as {}×{}×{} but validation images as "
                                  "{}×{}×{}; the model needs one input shape",
                                  out[0], out[1], out[2], val_out[0], val_out[1], val_out[2]));
    }
  }
  // Both splits are prepared once, as float32, next to their raw copies.
  const double per_image =
      4.0 * static_cast<double>(out[0]) * static_cast<double>(out[1]) * static_cast<double>(out[2]);
  const double prepared =
      per_image * static_cast<double>(dataset.train.size() + dataset.val.size());
  if (!fits_in_memory(prepared)) {
    throw SpecError(spec.file, "data.transforms",
                    fmt::format("the {} prepared images of {}×{}×{} need {}; this machine has {} "
                                "(resize to fewer pixels or lower data.train.limit)",
                                dataset.train.size() + dataset.val.size(), out[0], out[1], out[2],
                                format_bytes(prepared),
                                format_bytes(static_cast<double>(physical_memory_bytes()))));
  }
  const std::vector<int64_t> input{out[0], out[1], out[2]};
  model::check_model_fits(spec, input, dataset.num_classes);
  return input;
}

}  // namespace lossdoctor::train
