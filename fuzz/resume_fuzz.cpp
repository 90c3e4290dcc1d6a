// libFuzzer: the metric files a resumed run reads back (steps.jsonl, epochs.jsonl), through
// the reader the trainer uses (util/jsonl_records.hpp with train::StepRecord/EpochRecord). The
// first byte picks the file (even: steps, odd: epochs), the second how many records lie before
// the checkpoint (0-15); the rest is the file. Only InputError may escape, every record returned
// must be a needed one, and a damaged tail earns one warning at most.
//
// Not fuzzed here: checkpoint.pt, which libtorch's archive reader (PyTorchStreamReader, not
// built with the sanitizers) opens before lossdoctor checks its tensors.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "lossdoctor/train/trainer.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/jsonl_records.hpp"

using namespace lossdoctor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool steps = data[0] % 2 == 0;
  const size_t needed_count = data[1] % 16;
  const std::string path = fuzz::write(steps ? "steps.jsonl" : "epochs.jsonl", data + 2, size - 2);
  const std::string at = (steps ? "step " : "epoch ") + std::to_string(needed_count);
  size_t warnings = 0;
  const auto warn = [&](const std::string&) { ++warnings; };
  try {
    if (steps) {
      const auto kept = read_jsonl_records<train::StepRecord>(
          path, parse_step_record<train::StepRecord>,
          [&](const train::StepRecord& r) {
            return r.step >= 0 && r.step < static_cast<int64_t>(needed_count);
          },
          needed_count, at, warn);
      for (const auto& r : kept) {
        if (r.step < 0 || r.step >= static_cast<int64_t>(needed_count)) __builtin_trap();
      }
    } else {
      const auto kept = read_jsonl_records<train::EpochRecord>(
          path, parse_epoch_record<train::EpochRecord>,
          [&](const train::EpochRecord& r) {
            return r.epoch >= 0 && r.epoch < static_cast<int64_t>(needed_count);
          },
          needed_count, at, warn);
      for (const auto& r : kept) {
        if (r.epoch < 0 || r.epoch >= static_cast<int64_t>(needed_count)) __builtin_trap();
      }
    }
  } catch (const InputError&) {
  }
  if (warnings > 1) __builtin_trap();  // one line at most, whatever the damage
  return 0;
}
