#include "harness/core/load_driver.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <thread>

namespace conpar::harness {

load_window load_window::starting_now(clock::duration warmup, clock::duration measure) noexcept {
  const auto start = clock::now();
  return load_window{start, start + warmup, start + warmup + measure};
}

void load_driver::set_open_loop(double per_second, arrival kind, std::uint64_t seed) {
  if (!(per_second > 0)) throw std::invalid_argument("open loop: the offered rate must be positive");
  m_offered_per_second = per_second;
  // Every request due before the window closes, and no more: the schedule's length is the issue limit.
  const double window_s = std::chrono::duration<double>(m_warmup + m_measure).count();
  const double mean_gap_s = 1.0 / per_second;
  std::mt19937_64 rng(seed);  // seeded: the same schedule for every runner and every repetition
  std::exponential_distribution<double> gap(per_second);
  m_due.clear();
  m_due.reserve(static_cast<std::size_t>(window_s * per_second * 1.1) + 16);
  for (double t = 0; t < window_s;) {
    m_due.push_back(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(t)));
    t += kind == arrival::poisson ? gap(rng) : mean_gap_s;
  }
  m_limit = std::min<std::uint64_t>(m_limit, m_due.size());
}

std::uint64_t load_driver::scheduled_in_window() const noexcept {
  const auto from = std::lower_bound(m_due.begin(), m_due.end(), m_window.measure_from - m_window.start);
  const auto to = std::lower_bound(m_due.begin(), m_due.end(), m_window.stop - m_window.start);
  return static_cast<std::uint64_t>(to - from);
}

void load_driver::freeze() const noexcept { std::this_thread::sleep_for(m_stall); }

}  // namespace conpar::harness
