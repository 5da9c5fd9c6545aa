#include "workloads/calibration.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "workloads/kernel.hpp"

namespace conpar::workloads {

std::uint64_t calibration::iterations_for(double micros) const noexcept {
  return static_cast<std::uint64_t>(std::llround(std::max(0.0, micros) * iterations_per_us));
}

calibration calibrate() {
  using clock = std::chrono::steady_clock;
  constexpr std::uint64_t k_iterations = 2'000'000;  // ~5 ms: long enough to swamp clock overhead
  constexpr int k_trials = 7;  // the minimum of several trials ignores a preemption in one of them
  double best_us = 1e300;
  std::uint64_t sink = 0;
  for (int t = 0; t < k_trials; ++t) {
    const auto start = clock::now();
    sink += compute_kernel(static_cast<std::uint64_t>(t) + 1, k_iterations);
    const std::chrono::duration<double, std::micro> took = clock::now() - start;
    best_us = std::min(best_us, took.count());
  }
  if (sink == 0 || !(best_us > 0)) throw std::runtime_error("kernel calibration failed: no measurable time");
  return calibration{static_cast<double>(k_iterations) / best_us};
}

}  // namespace conpar::workloads
