#pragma once
// Running a command as a user would, for the CLI tests: one helper instead of a popen loop in
// every file.

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace lossdoctor::test {

struct ShellRun {
  int code = -1;           ///< exit status; 128 + N when the shell saw signal N
  bool signalled = false;  ///< killed by a signal (including by `timeout -s KILL`)
  std::string out;         ///< stdout and stderr together, at most 1 MiB
};

/// Runs `command` with /bin/sh, stderr joined to stdout.
inline ShellRun run_shell(const std::string& command) {
  ShellRun r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    if (r.out.size() < (1u << 20)) r.out.append(buf, n);
  }
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.signalled = !WIFEXITED(status) || r.code > 128;
  return r;
}

}  // namespace lossdoctor::test
