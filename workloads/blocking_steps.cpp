#include "workloads/blocking_steps.hpp"

#include <cerrno>
#include <ctime>

#include "workloads/kernel.hpp"

namespace conpar::workloads {
namespace {

// clock_nanosleep on CLOCK_MONOTONIC to an absolute deadline, so an interrupted sleep resumes correctly.
void sleep_micros(std::uint64_t micros) {
  timespec deadline{};
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += static_cast<time_t>(micros / 1'000'000);
  deadline.tv_nsec += static_cast<long>((micros % 1'000'000) * 1000);
  if (deadline.tv_nsec >= 1'000'000'000) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1'000'000'000;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
  }
}

}  // namespace

std::uint64_t execute_blocking(const request& r) {
  std::uint64_t acc = fold_start(r);
  for (const step& s : r.steps) {
    switch (s.kind) {
      case step_kind::compute: acc = fold_compute(acc, s.arg); break;
      case step_kind::wait:
        sleep_micros(s.arg);
        acc = fold_wait(acc, s.arg);
        break;
      case step_kind::fail: fail_if_due(r, s.arg); break;
      case step_kind::none: break;
    }
  }
  return acc;
}

}  // namespace conpar::workloads
