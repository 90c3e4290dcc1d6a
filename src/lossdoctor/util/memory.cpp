#include "lossdoctor/util/memory.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace lossdoctor {

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<int64_t>(pages) * page;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} KB", bytes / 1e3);
}

bool fits_in_memory(double bytes) {
  const int64_t total = physical_memory_bytes();
  return total <= 0 || bytes <= static_cast<double>(total);
}

}  // namespace lossdoctor
