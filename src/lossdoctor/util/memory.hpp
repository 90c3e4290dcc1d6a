#pragma once
// The machine's memory, for refusing absurd sizes before allocating them.

#include <cstdint>
#include <string>

namespace lossdoctor {

/// Physical memory in bytes (sysconf), or 0 when unknown.
int64_t physical_memory_bytes();

/// Memory this process may still use, in bytes: the least of the physical memory, the cgroup's
/// limit (v2 `memory.max` or v1 `memory.limit_in_bytes`, when one is set), RLIMIT_DATA and
/// RLIMIT_AS less the address space already mapped. 0 when none of them is known.
int64_t usable_memory_bytes();

/// What bounds `usable_memory_bytes()`, for messages: "this machine has 25.3 GB", "this process
/// may use 3.0 GB, what its address-space limit (ulimit -v) leaves", "..., the limit of its
/// cgroup (memory.max)".
std::string usable_memory_text();

/// "1.5 GB", "320 MB", "12 KB": for messages.
std::string format_bytes(double bytes);

/// True when `bytes` fits in the machine's physical memory (always true when it is unknown).
bool fits_in_memory(double bytes);

/// True when `bytes` fits in `usable_memory_bytes()` (always true when it is unknown).
bool fits_in_usable_memory(double bytes);

}  // namespace lossdoctor
