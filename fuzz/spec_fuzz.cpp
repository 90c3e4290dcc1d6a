// libFuzzer: the spec parser with --set overrides. Input = YAML text, then optionally a NUL byte
// and one override per line. Only InputError may escape the parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string yaml = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    size_t start = nul + 1;
    while (start <= input.size() && overrides.size() < 8) {
      const size_t end = std::min(input.find('\n', start), input.size());
      overrides.push_back(input.substr(start, end - start));
      start = end + 1;
    }
  }
  try {
    lossdoctor::spec::parse_spec_text(yaml, "fuzz.yaml", overrides);
  } catch (const lossdoctor::InputError&) {
  }
  return 0;
}
