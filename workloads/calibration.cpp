#include "workloads/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <stdexcept>

#include "workloads/kernel.hpp"

namespace conpar::workloads {

std::uint64_t calibration::iterations_for(double micros) const noexcept {
  return static_cast<std::uint64_t>(std::llround(std::max(0.0, micros) * iterations_per_us));
}

namespace {

// This thread's CPU time, not the wall clock: on a busy machine every 5 ms trial may be preempted, and a
// wall-clock calibration then reads the kernel as slower than it is, so every request of the run does less
// work than its work_us says (measured: 3 busy loops beside it on 2 cores halved the work of a 10 us request).
double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

}  // namespace

calibration calibrate() {
  constexpr std::uint64_t k_iterations = 2'000'000;  // ~5 ms: long enough to swamp clock overhead
  constexpr int k_trials = 7;  // the minimum of several trials also ignores a cache or frequency hiccup
  double best_us = 1e300;
  std::uint64_t sink = 0;
  for (int t = 0; t < k_trials; ++t) {
    const double start = thread_cpu_us();
    sink += compute_kernel(static_cast<std::uint64_t>(t) + 1, k_iterations);
    best_us = std::min(best_us, thread_cpu_us() - start);
  }
  if (sink == 0 || !(best_us > 0)) throw std::runtime_error("kernel calibration failed: no measurable time");
  return calibration{static_cast<double>(k_iterations) / best_us};
}

}  // namespace conpar::workloads
