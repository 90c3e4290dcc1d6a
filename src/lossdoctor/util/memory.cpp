#include "lossdoctor/util/memory.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lossdoctor {
namespace {

/// A cgroup limit file's value: a byte count, or 0 for "max", a huge v1 sentinel or no file.
int64_t read_limit(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    // cgroup v1 writes "no limit" as a number near 2^63 (rounded to pages).
    if (used != text.size() || v <= 0 || v >= (int64_t{1} << 60)) return 0;
    return v;
  } catch (const std::exception&) {
    return 0;
  }
}

/// This process's cgroup path in the hierarchy whose /proc/self/cgroup line names `controller`
/// in its second field ("" for v2's "0::/path"; "memory" for v1's "N:memory:/path"), or "".
std::string own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    if (line.substr(a + 1, b - a - 1) == controller) return line.substr(b + 1);
  }
  return "";
}

/// Address space already mapped (VmSize of /proc/self/status), in bytes; 0 when unknown.
int64_t mapped_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmSize:", 0) == 0) {
      std::istringstream fields(line.substr(7));
      int64_t kb = 0;
      if (fields >> kb) return kb * 1024;
    }
  }
  return 0;
}

int64_t rlimit_bytes(int resource) {
  struct rlimit rl {};
  if (::getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur > static_cast<rlim_t>(INT64_MAX) ? 0 : static_cast<int64_t>(rl.rlim_cur);
}

struct Bound {
  int64_t bytes = 0;
  const char* why = "";
};

void consider_bound(Bound& best, int64_t bytes, const char* why) {
  if (bytes > 0 && (best.bytes <= 0 || bytes < best.bytes)) best = {bytes, why};
}

/// Physical memory and the cgroup's limit: read once per process (they do not change under it).
Bound machine() {
  Bound best{physical_memory_bytes(), ""};
  auto consider = [&](int64_t bytes, const char* why) { consider_bound(best, bytes, why); };
  // Inside a container the own cgroup is often mounted as the root: read both places.
  const std::string v2 = own_cgroup(""), v1 = own_cgroup("memory");
  for (const std::string& dir : {"/sys/fs/cgroup" + v2, std::string("/sys/fs/cgroup")}) {
    consider(read_limit(dir + "/memory.max"), "the limit of its cgroup (memory.max)");
  }
  for (const std::string& dir :
       {"/sys/fs/cgroup/memory" + v1, std::string("/sys/fs/cgroup/memory")}) {
    consider(read_limit(dir + "/memory.limit_in_bytes"),
             "the limit of its cgroup (memory.limit_in_bytes)");
  }
  return best;
}

Bound usable() {
  static const Bound fixed = machine();
  Bound best = fixed;
  auto consider = [&](int64_t bytes, const char* why) { consider_bound(best, bytes, why); };
  consider(rlimit_bytes(RLIMIT_DATA), "its data-size limit (ulimit -d)");
  if (const int64_t as = rlimit_bytes(RLIMIT_AS); as > 0) {
    const int64_t left = as - mapped_bytes();
    consider(left > 0 ? left : 1, "what its address-space limit (ulimit -v) leaves");
  }
  return best;
}

}  // namespace

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<int64_t>(pages) * page;
}

int64_t usable_memory_bytes() { return usable().bytes; }

std::string usable_memory_text() {
  const Bound b = usable();
  if (b.bytes <= 0) return "this machine's memory is unknown";
  if (*b.why == '\0') return "this machine has " + format_bytes(static_cast<double>(b.bytes));
  return fmt::format("this process may use {}, {}", format_bytes(static_cast<double>(b.bytes)),
                     b.why);
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e12) return fmt::format("{:.1f} TB", bytes / 1e12);
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} KB", bytes / 1e3);
}

bool fits_in_memory(double bytes) {
  const int64_t total = physical_memory_bytes();
  return total <= 0 || bytes <= static_cast<double>(total);
}

bool fits_in_usable_memory(double bytes) {
  const int64_t total = usable_memory_bytes();
  return total <= 0 || bytes <= static_cast<double>(total);
}

}  // namespace lossdoctor
