#include "workloads/blocking_steps.hpp"

#include <cerrno>
#include <chrono>
#include <ctime>

#include "workloads/kernel.hpp"
#include "workloads/tcp_client.hpp"
#include "workloads/tcp_protocol.hpp"

namespace conpar::workloads {
namespace {

using clock = std::chrono::steady_clock;

// clock_nanosleep on CLOCK_MONOTONIC (steady_clock's clock) to an absolute deadline, so an interrupted sleep
// resumes correctly. Returns false when `limit` came first and the sleep was cut short there.
bool sleep_micros(std::uint64_t micros, clock::time_point limit) {
  const auto wanted = clock::now() + std::chrono::microseconds(micros);
  const bool cut = wanted > limit;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>((cut ? limit : wanted).time_since_epoch()).count();
  const timespec deadline{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
  }
  return !cut;
}

}  // namespace

std::uint64_t execute_steps_blocking(const request& r, std::uint64_t acc, std::size_t first, std::size_t last,
                                     clock::time_point limit) {
  for (std::size_t i = first; i < last; ++i) {
    const step& s = r.steps[i];
    switch (s.kind) {
      case step_kind::compute: acc = fold_compute(acc, s.arg); break;
      case step_kind::wait:
        if (!sleep_micros(s.arg, limit)) throw_cut_off(r);
        acc = fold_wait(acc, s.arg);
        break;
      case step_kind::stream: acc = run_stream(r, acc, s.arg); break;  // CPU-side work, like compute
      case step_kind::tcp: acc = fold_tcp(acc, tcp_round_trip_blocking(r, s.arg, limit)); break;
      case step_kind::fail: fail_if_due(r, s.arg); break;
      case step_kind::stall:
        if (const auto us = stall_us(r, s.arg); us > 0 && !sleep_micros(us, limit)) throw_cut_off(r);
        break;
      case step_kind::none: break;
    }
  }
  return acc;
}

}  // namespace conpar::workloads
