#include "lossdoctor/util/interrupt.hpp"

#include <atomic>
#include <csignal>

namespace lossdoctor {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int sig) {
  g_interrupted.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process immediately
}

}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_interrupted.load(); }

void set_interrupt_requested(bool value) { g_interrupted.store(value); }

}  // namespace lossdoctor
