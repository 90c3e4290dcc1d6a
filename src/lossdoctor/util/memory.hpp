#pragma once
// The machine's memory, for refusing absurd sizes before allocating them.

#include <cstdint>
#include <string>

namespace lossdoctor {

/// Physical memory in bytes (sysconf), or 0 when unknown.
int64_t physical_memory_bytes();

/// "1.5 GB", "320 MB", "12 KB": for messages.
std::string format_bytes(double bytes);

/// True when `bytes` fits in the machine's physical memory (always true when it is unknown).
bool fits_in_memory(double bytes);

}  // namespace lossdoctor
