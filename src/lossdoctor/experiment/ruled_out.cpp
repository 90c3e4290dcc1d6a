#include "lossdoctor/experiment/ruled_out.hpp"

#include <algorithm>
#include <vector>

namespace lossdoctor::experiment {
namespace {

bool has_dropout(const std::vector<spec::LayerSpec>& layers) {
  return std::any_of(layers.begin(), layers.end(), [](const spec::LayerSpec& L) {
    return (L.kind == spec::LayerSpec::Kind::Dropout && L.rate > 0) || has_dropout(L.layers);
  });
}

bool lint_raised(const Finding& f) {
  return std::any_of(f.evidence.begin(), f.evidence.end(),
                     [](const std::string& e) { return e.rfind("spec: ", 0) == 0; });
}

}  // namespace

std::optional<std::string> ruled_out_by_spec(const spec::Spec& spec, const Finding& f) {
  const std::string& c = f.cause;
  if (c == "params_not_updated") {
    return std::string(
        "lossdoctor's trainer hands every parameter of the spec's model to the optimiser and "
        "steps it every batch (this cause belongs to hand-written loops)");
  }
  if (c == "loss_output_mismatch" && !lint_raised(f)) {
    return std::string(
        "the spec's loss fits its output layer: lint checks the pair and found nothing, and "
        "lossdoctor builds both from the spec");
  }
  if (c == "grad_clip_too_tight" && !(spec.clip_grad_norm && *spec.clip_grad_norm > 0)) {
    return std::string("the spec does not clip gradients (no clip_grad_norm)");
  }
  if (c == "excessive_regularization" && spec.optimizer.weight_decay <= 0 &&
      spec.loss.label_smoothing <= 0 && !has_dropout(spec.layers)) {
    return std::string(
        "the spec has no weight decay, no dropout and no label smoothing: nothing regularises "
        "the run");
  }
  if (c == "bad_lr_schedule" && spec.schedule.kind == spec::ScheduleSpec::Kind::Constant &&
      spec.schedule.warmup_steps <= 0) {
    return std::string("the spec's learning rate is constant, with no warm-up");
  }
  return std::nullopt;
}

}  // namespace lossdoctor::experiment
