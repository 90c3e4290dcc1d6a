// libFuzzer: training logs and RunRecord files, read and diagnosed end to end (the logs stage,
// then the detectors and the diagnoser). The first byte picks the format: a TensorBoard event
// file, a Keras/Lightning/lossdoctor CSV, or a RunRecord JSON (diagnose --record-in); the rest is
// the file. Only InputError may escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "lossdoctor/logs/diagnose_log.hpp"
#include "lossdoctor/logs/read_log.hpp"
#include "lossdoctor/logs/record_file.hpp"
#include "lossdoctor/util/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lossdoctor;
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 5;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    logs::LogDiagnosisOptions options;
    options.num_classes = data[0] / 5 % 2 == 0 ? 10 : 0;
    if (kind == 0) {
      const std::string path = fuzz::write("events.out.tfevents.1.fuzz", text);
      logs::diagnose_log(logs::read_log(path, logs::LogFormat::TensorBoard, {}), options);
    } else if (kind == 4) {
      const std::string path = fuzz::write("run.json", text);
      logs::diagnose_record(logs::read_record_file(path), path);
    } else {
      const logs::LogFormat format = kind == 1   ? logs::LogFormat::Keras
                                     : kind == 2 ? logs::LogFormat::Lightning
                                                 : logs::LogFormat::Lossdoctor;
      logs::diagnose_log(logs::parse_csv_log(text, "fuzz.csv", format, {}), options);
    }
  } catch (const InputError&) {
  }
  return 0;
}
