// dead_units: ReLU-family layers whose units output zero for every sample, persistently.
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// A layer is flagged when more than kDeadFraction of its units are dead ...
constexpr double kDeadFraction = 0.5;
/// ... for at least kMinConsecutiveProbes consecutive probes.
constexpr size_t kMinConsecutiveProbes = 3;
}  // namespace

std::vector<Symptom> detect_dead_units(const RunRecord& r) {
  return series::persistent_fraction(
      r, {"dead_units", "dead", kDeadFraction, kMinConsecutiveProbes, &series::is_relu_family,
          [](const LayerSample& l) { return l.dead_fraction; }});
}

}  // namespace lossdoctor::diagnose
