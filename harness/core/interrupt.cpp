#include "harness/core/interrupt.hpp"

#include <csignal>
#include <cstring>

namespace conpar::harness {
namespace {

extern "C" void on_interrupt(int sig) {
  int none = 0;  // the first signal wins, so the exit code names what stopped the run
  detail::g_interrupt_signal.compare_exchange_strong(none, sig, std::memory_order_relaxed);
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking calls resume; the loops poll the flag between requests
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaction(sig, &sa, nullptr);
}

}  // namespace conpar::harness
