#include "lossdoctor/cli/launch.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "lossdoctor/train/distributed.hpp"
#include "lossdoctor/util/atomic_file.hpp"

namespace lossdoctor::cli {
namespace {

std::atomic<int> g_forward_signal{0};

// SIGINT from a terminal reaches every rank already (same process group): the launcher only
// waits. SIGTERM sent to the launcher alone is passed on to the ranks.
void on_launcher_signal(int sig) {
  if (sig == SIGTERM) g_forward_signal = SIGTERM;
}

struct RankState {
  pid_t pid = -1;
  bool done = false;
  int status = 0;  ///< waitpid status
};

bool failed(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

std::string describe(int rank, int status) {
  if (WIFEXITED(status))
    return fmt::format("rank {} exited with status {}", rank, WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("rank {} was killed by signal {} ({})", rank, WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  }
  return fmt::format("rank {} ended (wait status {})", rank, status);
}

}  // namespace

std::vector<std::string> without_nproc(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

std::vector<std::string> with_rank_threads(std::vector<std::string> args, int nproc) {
  for (const auto& a : args) {
    if (a == "--threads" || a.rfind("--threads=", 0) == 0) return args;
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int per_rank = std::max(1, cores / std::max(1, nproc));
  args.insert(args.begin() + (args.empty() ? 0 : 1), {"--threads", std::to_string(per_rank)});
  return args;
}

int launch_ranks(const std::vector<std::string>& args, int nproc, const std::string& run_dir,
                 std::chrono::milliseconds grace, const std::string& command) {
  using Clock = std::chrono::steady_clock;
  const int port = train::pick_free_port();
  const std::vector<std::string> base = with_rank_threads(without_nproc(args), nproc);
  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<RankState> ranks(static_cast<size_t>(nproc));
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> argv_r = base;
    for (const std::string& extra :
         {std::string("--rank"), std::to_string(r), std::string("--world-size"),
          std::to_string(nproc), std::string("--master"), fmt::format("127.0.0.1:{}", port)}) {
      argv_r.push_back(extra);
    }
    std::vector<char*> cargv;
    for (auto& a : argv_r) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      fmt::print(stderr, "{} --nproc {}: cannot start rank {}: {}\n", command, nproc, r,
                 std::strerror(errno));
      for (int k = 0; k < r; ++k) ::kill(ranks[k].pid, SIGKILL);
      for (int k = 0; k < r; ++k) ::waitpid(ranks[k].pid, nullptr, 0);
      return 1;
    }
    if (pid == 0) {
      ::execv("/proc/self/exe", cargv.data());
      ::execvp(cargv[0], cargv.data());
      fmt::print(stderr, "rank {}: cannot run {}: {}\n", r, cargv[0], std::strerror(errno));
      std::_Exit(127);
    }
    ranks[static_cast<size_t>(r)].pid = pid;
  }

  int first_failed = -1;
  Clock::time_point failed_at{};
  bool terminated = false, killed = false, forwarded = false;
  std::vector<int> failure_order;
  int remaining = nproc;
  while (remaining > 0) {
    if (g_forward_signal != 0 && !forwarded) {
      for (auto& s : ranks)
        if (!s.done) ::kill(s.pid, g_forward_signal);
      forwarded = true;
    }
    bool reaped = false;
    // Reap everything that has ended; among ranks reaped in the same round, one that did not
    // exit with status 1 (a rank that lost its peer) is the likelier cause.
    std::vector<int> round;
    for (int r = 0; r < nproc; ++r) {
      auto& s = ranks[static_cast<size_t>(r)];
      if (s.done) continue;
      int status = 0;
      const pid_t got = ::waitpid(s.pid, &status, WNOHANG);
      if (got == s.pid) {
        s.done = true;
        s.status = status;
        --remaining;
        reaped = true;
        if (failed(status)) round.push_back(r);
      }
    }
    std::stable_sort(round.begin(), round.end(), [&](int a, int b) {
      const auto peer_lost = [&](int r) {
        const int st = ranks[static_cast<size_t>(r)].status;
        return WIFEXITED(st) && WEXITSTATUS(st) == 1;
      };
      return !peer_lost(a) && peer_lost(b);
    });
    for (int r : round) failure_order.push_back(r);
    if (first_failed < 0 && !failure_order.empty()) {
      first_failed = failure_order.front();
      failed_at = Clock::now();
    }
    if (first_failed >= 0 && remaining > 0) {
      const auto since = Clock::now() - failed_at;
      if (!terminated && since >= grace) {
        for (auto& s : ranks)
          if (!s.done) ::kill(s.pid, SIGTERM);
        terminated = true;
      } else if (!killed && since >= grace + std::chrono::seconds(5)) {
        for (auto& s : ranks)
          if (!s.done) ::kill(s.pid, SIGKILL);
        killed = true;
      }
    }
    if (!reaped && remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  std::vector<std::string> removed;
  if (!run_dir.empty()) removed = remove_stale_temp_files(run_dir);

  if (first_failed < 0) return 0;
  // Every rank agrees (a bad spec, an interrupt, a non-finite loss): that is the job's status.
  const int common = ranks[0].status;
  bool agree = WIFEXITED(common);
  for (const auto& s : ranks) agree = agree && s.status == common;
  if (agree) return WEXITSTATUS(common);

  std::string detail;
  for (size_t i = 1; i < failure_order.size(); ++i) {
    detail +=
        "; " + describe(failure_order[i], ranks[static_cast<size_t>(failure_order[i])].status);
  }
  fmt::print(stderr, "{} --nproc {}: {}, so the job was stopped{}{}\n", command, nproc,
             describe(first_failed, ranks[static_cast<size_t>(first_failed)].status), detail,
             removed.empty() ? ""
                             : fmt::format(" (removed {} temporary file(s) it left in {})",
                                           removed.size(), run_dir));
  const int st = ranks[static_cast<size_t>(first_failed)].status;
  return WIFEXITED(st) && WEXITSTATUS(st) == 2 ? 2 : 1;
}

}  // namespace lossdoctor::cli
