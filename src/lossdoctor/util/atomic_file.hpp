#pragma once
// Whole-file writes that never leave a partial file behind: write a temporary file in the same
// directory, flush it to disk, then rename it over the target.
//
// Contract:
//   ensures: the target is either its old content or the new one, never a mix; the temporary
//            file is named temp_path_for(path) ("PATH.tmp.PID") and is gone once the call
//            returns or throws. Only a kill between the two steps leaves one behind, which
//            remove_stale_temp_files() finds by that name.

#include <functional>
#include <string>
#include <vector>

namespace lossdoctor {

/// Writes `content` to `path` atomically. Throws InputError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// Calls `write(tmp_path)` to produce the file, then renames it to `path`. On any exception the
/// temporary file is removed and the exception rethrown; `path` is left untouched.
void write_atomic_with(const std::string& path,
                       const std::function<void(const std::string&)>& write);

/// The temporary file this process writes `path` through: "PATH.tmp.PID".
std::string temp_path_for(const std::string& path);

/// Removes the temporary files in `dir` (not its sub-directories) that a killed process left:
/// regular files named "NAME.tmp.PID" whose PID is no live process (kill(PID, 0) fails with
/// ESRCH). Files of live processes (a write in progress) and every other name are kept.
/// Returns the names removed, sorted. A missing or unreadable directory removes nothing.
std::vector<std::string> remove_stale_temp_files(const std::string& dir);

}  // namespace lossdoctor
