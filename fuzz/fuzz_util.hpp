#pragma once
// Shared by the libFuzzer harnesses: a scratch folder per process (on /dev/shm when it exists,
// so a file write per input stays cheap) and the one rule every harness checks: bad input may
// throw InputError (exit 2), anything else escaping is a bug the fuzzer reports.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace lossdoctor::fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto d = base / ("lossdoctor-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path.string();
}

inline std::string write(const std::string& name, const std::string& text) {
  return write(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace lossdoctor::fuzz
