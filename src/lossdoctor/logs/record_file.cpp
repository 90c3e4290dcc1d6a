#include "lossdoctor/logs/record_file.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::logs {

namespace {

using nlohmann::json;

/// Checks the shape record_from_json needs, naming the first key that is wrong.
void check_shape(const json& j, const std::string& path) {
  const auto fail = [&](const std::string& key, const std::string& what) {
    throw InputError(fmt::format("{}: not a RunRecord: '{}' {}", path, key, what));
  };
  if (!j.is_object()) {
    throw InputError(fmt::format("{}: not a RunRecord: the top level is {}, not an object", path,
                                 j.type_name()));
  }
  for (const char* key : {"layers", "steps", "probes", "epochs"}) {
    if (!j.contains(key)) fail(key, "is missing");
    if (!j.at(key).is_array()) fail(key, fmt::format("is {}, not an array", j.at(key).type_name()));
  }
  const json& steps = j.at("steps");
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const std::string at = fmt::format("steps[{}]", i);
    if (!s.is_object()) fail(at, "is not an object");
    for (const char* key : {"step", "epoch"}) {
      if (!s.contains(key)) fail(at + "." + key, "is missing");
      if (!s.at(key).is_number()) fail(at + "." + key, "is not a number");
    }
    if (s.contains("loss") && !s.at("loss").is_number() && !s.at("loss").is_null()) {
      fail(at + ".loss", "is not a number (null: non-finite)");
    }
  }
  if (j.contains("samples") && j.at("samples").is_array()) {
    const json& samples = j.at("samples");
    for (size_t i = 0; i < samples.size(); ++i) {
      const json& s = samples[i];
      // [times_seen, last_loss, mean_margin, first_learned_step, look, first_margin]; the last
      // two since session 12. A look is one of SampleDynamics' codes, -1 to 2.
      if (!s.is_array() || (s.size() != 4 && s.size() != 6)) {
        fail(fmt::format("samples[{}]", i), "is not an array of 4 or 6 numbers");
      }
      if (s.size() == 6 && !(s[4].is_number_integer() &&
                             s[4].get<int64_t>() >= SampleDynamics::kUnchecked &&
                             s[4].get<int64_t>() <= SampleDynamics::kNoiseLike)) {
        fail(fmt::format("samples[{}][4]", i), "(the image's look) is not -1, 0, 1 or 2");
      }
    }
  }
}

}  // namespace

RunRecord read_record_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open the RunRecord file", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(fmt::format("{}: empty file (expected a RunRecord JSON)", path));
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: not JSON (byte {}): {}", path, e.byte, e.what()));
  } catch (const json::exception& e) {
    // e.g. a number too large for a double ("466e0675048828125"; found by fuzz/log_fuzz)
    throw InputError(fmt::format("{}: not a valid JSON document: {}", path, e.what()));
  }
  check_shape(j, path);
  try {
    return report::record_from_json(j);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: not a RunRecord: {}", path, e.what()));
  }
}

report::Report diagnose_record(const RunRecord& record, const std::string& source) {
  const std::vector<Symptom> symptoms = diagnose::detect_symptoms(record);
  const diagnose::Diagnosis d = diagnose::diagnose(record, symptoms, {}, {});
  report::Report r;
  r.command = "diagnose";
  r.spec = record.spec_name.empty() ? source : record.spec_name;
  r.verdict = d.verdict;
  r.steps_run = static_cast<int64_t>(record.steps.size());
  r.device = "none";
  r.custom_loop = record.custom_loop;
  r.findings = d.findings;
  r.symptoms = symptoms;
  r.notes = d.notes;
  if (record.distributed) {  // a data-parallel run's gathered ranks
    r.world_size = record.distributed->world_size;
    r.global_batch_size = record.distributed->global_batch_size;
  }
  r.notes.push_back(fmt::format(
      "diagnosed from the RunRecord {} without training: no lint of a spec, no data audit and no "
      "confirmation reruns, so causes only a spec or the data show are not reported",
      source));
  return r;
}

}  // namespace lossdoctor::logs
