// Causes the spec itself rules out. The confirmation tests a suspected cause by rerunning the
// spec without it; some causes cannot be present at all in a run lossdoctor trains from a spec,
// and testing them would spend a rerun (or, untested, leave a generic suspicion on top of a run
// that sits at chance). Contract: pure, no training; every reason names the spec's own setting.
#pragma once

#include <optional>
#include <string>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::experiment {

/// Why `spec` cannot have `finding`'s cause, or nullopt when it can. Only for runs that
/// lossdoctor trained from `spec` (not hand-written loops or logs):
/// - params_not_updated: the trainer hands every parameter of the model to the optimiser and
///   steps it every batch (the cause belongs to hand-written loops);
/// - loss_output_mismatch: lint checks the loss against the output layer; without a lint
///   finding among the evidence ("spec: ..."), the two fit;
/// - grad_clip_too_tight: the spec does not clip gradients;
/// - excessive_regularization: no weight decay, no dropout, no label smoothing;
/// - bad_lr_schedule: a constant rate with no warm-up.
std::optional<std::string> ruled_out_by_spec(const spec::Spec& spec, const Finding& finding);

}  // namespace lossdoctor::experiment
