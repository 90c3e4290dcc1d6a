#include "lossdoctor/spec/spec.hpp"

#include <fmt/format.h>

namespace lossdoctor::spec {

std::string Location::str() const {
  if (!override.empty()) return "--set " + override;
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

}  // namespace lossdoctor::spec
