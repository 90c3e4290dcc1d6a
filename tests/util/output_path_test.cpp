// Output paths are checked before any work, and the check leaves nothing behind.
#include "lossdoctor/util/output_path.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/memory.hpp"

namespace lossdoctor {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("ld-outpath-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string error_of(void (*check)(const std::string&, const std::string&), const std::string& flag,
                     const std::string& path) {
  try {
    check(flag, path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(OutputPath, AWritableFileInAnExistingFolderPassesAndLeavesNothing) {
  const fs::path dir = fresh_dir("ok");
  EXPECT_EQ(error_of(require_writable_file, "--json", (dir / "r.json").string()), "");
  EXPECT_EQ(error_of(require_writable_dir, "--out", (dir / "a" / "b").string()), "");
  EXPECT_TRUE(fs::is_empty(dir));  // neither the file nor the folders exist yet
  fs::remove_all(dir);
}

TEST(OutputPath, EachWayOfBeingUnwritableIsNamedWithItsFlag) {
  const fs::path dir = fresh_dir("bad");
  std::ofstream(dir / "file") << "x";
  EXPECT_NE(error_of(require_writable_file, "--json", dir.string())
                .find("--json " + dir.string() + ": is a directory"),
            std::string::npos);
  EXPECT_NE(error_of(require_writable_file, "-o", (dir / "no" / "x.yaml").string())
                .find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of(require_writable_file, "--json", (dir / "file" / "x.json").string())
                .find("is not a folder"),
            std::string::npos);
  EXPECT_NE(
      error_of(require_writable_file, "--record", "/proc/r.json").find("cannot write in /proc"),
      std::string::npos);
  EXPECT_NE(error_of(require_writable_dir, "--out", (dir / "file").string())
                .find("exists and is not a folder"),
            std::string::npos);
  EXPECT_NE(error_of(require_writable_dir, "--out", "/proc/run").find("cannot write"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(Memory, KnowsThisMachineAndFormatsSizes) {
  EXPECT_GT(physical_memory_bytes(), int64_t{1} << 28);  // any machine that builds torch
  EXPECT_TRUE(fits_in_memory(1e6));
  EXPECT_FALSE(fits_in_memory(1e18));
  EXPECT_EQ(format_bytes(1.5e9), "1.5 GB");
  EXPECT_EQ(format_bytes(3.2e8), "320 MB");
  EXPECT_EQ(format_bytes(12e3), "12 KB");
}

}  // namespace
}  // namespace lossdoctor
