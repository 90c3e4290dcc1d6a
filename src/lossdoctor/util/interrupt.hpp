#pragma once
// Ctrl-C handling for long runs: the first SIGINT/SIGTERM only sets a flag that the training loop
// polls (so it can write a final checkpoint); a second one ends the process at once.

namespace lossdoctor {

void install_interrupt_handler();
bool interrupt_requested();
/// For tests: set or clear the flag as if a signal had arrived.
void set_interrupt_requested(bool value);

}  // namespace lossdoctor
