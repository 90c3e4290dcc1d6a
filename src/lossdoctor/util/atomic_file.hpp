#pragma once
// Whole-file writes that never leave a partial file behind: write a temporary file in the same
// directory, flush it to disk, then rename it over the target.

#include <functional>
#include <string>

namespace lossdoctor {

/// Writes `content` to `path` atomically. Throws InputError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// Calls `write(tmp_path)` to produce the file, then renames it to `path`. On any exception the
/// temporary file is removed and the exception rethrown; `path` is left untouched.
void write_atomic_with(const std::string& path,
                       const std::function<void(const std::string&)>& write);

}  // namespace lossdoctor
