#include "harness/core/load_driver.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace conpar::harness {

void load_state::configure_like(const load_state& o) noexcept {
  prototype = o.prototype;
  start = o.start;
  warmup_end = o.warmup_end;
  measure = o.measure;
  deadline = o.deadline;
  stall_at = o.stall_at;
  stall = o.stall;
  due = o.due;
  limit = o.limit;
  concurrency = o.concurrency;
  lanes = o.lanes;
  open = o.open;
  next_id.store(0, std::memory_order_relaxed);
  measure_from_ticks.store(clock::time_point::max().time_since_epoch().count(), std::memory_order_relaxed);
  stop_ticks.store(clock::time_point::max().time_since_epoch().count(), std::memory_order_relaxed);
  warm.store(0, std::memory_order_relaxed);
  window_open.store(false, std::memory_order_relaxed);
  stop.store(false, std::memory_order_relaxed);
  stalled.store(false, std::memory_order_relaxed);
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
  m_live->open = true;
  m_live->due = m_due.data();
  m_live->limit = std::min<std::uint64_t>(m_live->limit, m_due.size());
}

std::uint64_t load_driver::scheduled_in_window() const noexcept {
  const load_window w = m_live->window();
  const auto from = std::lower_bound(m_due.begin(), m_due.end(), w.measure_from - w.start);
  const auto to = std::lower_bound(m_due.begin(), m_due.end(), w.stop - w.start);
  return static_cast<std::uint64_t>(to - from);
}

void load_driver::share(load_state& where, std::span<clock::duration> schedule) noexcept {
  where.configure_like(*m_live);
  std::copy(m_due.begin(), m_due.end(), schedule.begin());
  where.due = schedule.data();
  m_live = &where;
}

void load_driver::begin() {
  m_usage_at_begin = resource_usage::of_this_process();
  load_state& s = *m_live;
  s.start = clock::now();
  s.warmup_end = s.start + m_warmup;
  s.measure = m_measure;
  // The watchdog counts from the planned window's end: a lane that never completes (a silent server) is cut off
  // then, whether or not it held the window's opening back.
  const bool waits = !s.open && s.lanes > 0;
  s.deadline = s.warmup_end + m_measure + m_watchdog;
  // The test's stall lands half-way through the planned window.
  s.stall_at = s.stall.count() > 0 ? s.warmup_end + m_measure / 2 : clock::time_point::max();
  if (!waits) s.open_window(s.warmup_end);  // the schedule's window, or a runner without lanes: fixed warm-up
}

}  // namespace conpar::harness
