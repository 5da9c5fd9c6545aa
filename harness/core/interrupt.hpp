// Every catchable signal that would end a run (SIGINT, SIGTERM, SIGHUP, SIGPIPE) ends it cleanly: the cell in
// flight stops issuing, later cells are skipped, and the results so far are written before the process exits
// 128 + signal. A hang-up (ssh) or a reader that went away (`conpar run | head -1`) otherwise lost them all.
#pragma once

#include <atomic>
#include <string>

namespace conpar::harness {

namespace detail {
inline std::atomic<int> g_interrupt_signal{0};  // lock-free, so the handler may store it
static_assert(std::atomic<int>::is_always_lock_free);
}  // namespace detail

// The signal that interrupted the run, or 0. Relaxed: it is a one-way flag read on every request.
[[nodiscard]] inline int interrupt_signal() noexcept {
  return detail::g_interrupt_signal.load(std::memory_order_relaxed);
}

// "SIGINT" for SIGINT, and so on.
[[nodiscard]] std::string signal_name(int sig);

// Installs handlers for SIGINT, SIGTERM, SIGHUP and SIGPIPE that only record the signal; a second signal
// changes nothing. With SIGPIPE caught, a write to a closed stdout fails with EPIPE instead of killing the
// process, and stdio merely marks the stream in error: the run goes on to write its results file.
void install_interrupt_handlers();

}  // namespace conpar::harness
