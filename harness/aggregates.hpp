// A cell's aggregate rows, as Google Benchmark writes them (mean, median, stddev, cv), plus the median's
// distribution-free 95% interval (ci_low, ci_high). conpar computes them itself: a cell's repetitions run in
// separate rounds (rounds.hpp), so Google Benchmark never sees them together.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace conpar::harness {

inline constexpr double k_ci_level = 0.95;

// The interval [x(k), x(n+1-k)] of n sorted samples covers the median with probability
// 1 - 2 P(Binomial(n, 1/2) < k), whatever the distribution. The widest k that reaches k_ci_level, or k = 1 (the
// range) when none does: 5 samples cover 93.75% at most, 6 cover 96.9%.
struct median_interval {
  std::size_t k = 0;    // 1-based; 0: fewer than two samples, no interval
  double coverage = 0;  // the interval's exact coverage
};
median_interval interval_for(std::size_t n);

// `benchmarks` holds iteration rows, each run's together. After each run's last row come its aggregates, computed
// over its successful repetitions from every numeric field they carry, when at least two succeeded (as Google
// Benchmark does). The ci rows carry ci_coverage.
void add_aggregates(nlohmann::json& benchmarks);

}  // namespace conpar::harness
