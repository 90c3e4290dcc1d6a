#pragma once
// Error types mapped to exit codes by the CLI (see docs and design.md):
// InputError → exit 2 (bad spec, bad data, bad arguments); anything else → exit 3.

#include <stdexcept>
#include <string>

namespace lossdoctor {

/// The user's input is wrong: the message is complete and printed as is (no stack, no prefix).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A spec problem: what() is "LOCATION: key.path: message".
class SpecError : public InputError {
 public:
  SpecError(std::string location, std::string key_path, std::string message)
      : InputError(location + ": " + key_path + ": " + message),
        location_(std::move(location)),
        key_path_(std::move(key_path)),
        message_(std::move(message)) {}
  const std::string& location() const { return location_; }
  const std::string& key_path() const { return key_path_; }
  const std::string& message() const { return message_; }

 private:
  std::string location_, key_path_, message_;
};

/// A data problem: what() is "PATH: message" (PATH is a file, or a file plus record index).
class DataError : public InputError {
 public:
  DataError(std::string path, const std::string& message)
      : InputError(path + ": " + message), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lossdoctor
