#include "lossdoctor/util/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor {
namespace {

constexpr const char* kTempInfix = ".tmp.";

/// The PID of a temporary file's name "NAME.tmp.PID", or 0 when the name is not of that form.
pid_t temp_file_pid(const std::string& name) {
  const size_t at = name.rfind(kTempInfix);
  if (at == std::string::npos || at == 0) return 0;
  const std::string digits = name.substr(at + std::char_traits<char>::length(kTempInfix));
  if (digits.empty() || digits.size() > 9 || digits[0] == '0') return 0;  // 9 digits fit pid_t
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  return static_cast<pid_t>(std::stol(digits));
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string temp_path_for(const std::string& path) {
  return path + kTempInfix + std::to_string(::getpid());
}

std::vector<std::string> remove_stale_temp_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const pid_t pid = temp_file_pid(name);
    std::error_code type_ec;
    if (pid <= 0 || !it->is_regular_file(type_ec)) continue;
    // Only a process that no longer exists is certainly not writing the file; EPERM means it
    // lives under another user.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

void write_atomic_with(const std::string& path,
                       const std::function<void(const std::string&)>& write) {
  const std::string tmp = temp_path_for(path);
  try {
    write(tmp);
    fsync_path(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw InputError(path + ": cannot write: " + std::strerror(errno));
    }
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_atomic_with(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path + ": cannot write: " + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw InputError(path + ": write failed: " + std::strerror(errno));
  });
}

}  // namespace lossdoctor
