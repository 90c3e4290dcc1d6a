// saturated_units: sigmoid/tanh layers whose outputs sit at their bounds, persistently. Softmax
// and log_softmax are ignored: a confident classifier's output layer saturates by design.
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// A layer is flagged when more than kSaturatedFraction of its outputs are saturated ...
constexpr double kSaturatedFraction = 0.5;
/// ... for at least kMinConsecutiveProbes consecutive probes.
constexpr size_t kMinConsecutiveProbes = 3;
}  // namespace

std::vector<Symptom> detect_saturated_units(const RunRecord& r) {
  return series::persistent_fraction(
      r, {"saturated_units", "saturated", kSaturatedFraction, kMinConsecutiveProbes,
          &series::is_saturating, [](const LayerSample& l) { return l.saturated_fraction; }});
}

}  // namespace lossdoctor::diagnose
