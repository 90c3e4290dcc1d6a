#include "lossdoctor/util/output_path.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor {
namespace {

namespace fs = std::filesystem;

/// Creates and removes a probe file in `dir`: the only test that also holds for root, read-only
/// mounts and pseudo file systems such as /proc, where permission bits say nothing.
std::string creatable_in(const fs::path& dir) {
  const fs::path probe = dir / (".lossdoctor-write-check." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    const int err = errno;
    switch (err) {
      // The folder exists (checked before), so ENOENT means it refuses new files: /proc, /sys.
      case ENOENT:
      case EPERM:
        return "the folder does not accept new files (a system folder such as /proc?)";
      case EACCES:
        return "permission denied";
      case EROFS:
        return "read-only file system";
      case ENOSPC:
      case EDQUOT:
        return "no space left on the device";
      default:
        return std::strerror(err);
    }
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

[[noreturn]] void fail(const std::string& flag, const std::string& path, const std::string& why) {
  throw InputError(flag + " " + path + ": " + why);
}

}  // namespace

void require_writable_file(const std::string& flag, const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) fail(flag, path, "is a directory; give a file name");
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::exists(dir, ec)) fail(flag, path, "folder " + dir.string() + " does not exist");
  if (!fs::is_directory(dir, ec)) fail(flag, path, dir.string() + " is not a folder");
  const std::string why = creatable_in(dir);
  if (!why.empty()) fail(flag, path, "cannot write in " + dir.string() + ": " + why);
}

void require_writable_dir(const std::string& flag, const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec)) {
    fail(flag, path, "exists and is not a folder");
  }
  while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  if (!fs::is_directory(p, ec)) fail(flag, path, p.string() + " is not a folder");
  const std::string why = creatable_in(p);
  if (!why.empty()) fail(flag, path, "cannot write in " + p.string() + ": " + why);
}

}  // namespace lossdoctor
