#pragma once
// Can this spec run on this data? The checks every command makes before it allocates a model or
// prepares an image: train, validate, diagnose, lint and audit give the same answer (lint and
// audit never call a model healthy that cannot be built).
//
// Contract:
//   requires: `dataset` loaded from spec.data.
//   ensures:  returns the model's input shape {C, H, W} (after the training transforms).
//   throws:   InputError when the training split is empty; SpecError when training and
//             validation images come out of their transforms with different shapes, when the
//             prepared images would not fit in memory, or what model::check_model_fits throws
//             (a layer that cannot apply, too many layers or parameters, wrong output size,
//             a model that needs more memory than the machine has).

#include <cstdint>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::train {

std::vector<int64_t> check_runnable(const spec::Spec& spec, const data::Dataset& dataset);

}  // namespace lossdoctor::train
