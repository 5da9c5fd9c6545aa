// The closed-loop load shared by every runner: who issues which request when, and what each lane saw.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

#include "harness/interrupt.hpp"
#include "harness/latency_histogram.hpp"
#include "harness/resource_usage.hpp"
#include "workloads/workload.hpp"

namespace conpar::harness {

using clock = std::chrono::steady_clock;

// Requests are issued from `start` to `stop`; only completions inside [measure_from, stop] count towards
// throughput and latency (the warm-up before is excluded), but every request is validated.
struct load_window {
  clock::time_point start;
  clock::time_point measure_from;
  clock::time_point stop;

  [[nodiscard]] static load_window starting_now(clock::duration warmup, clock::duration measure) noexcept;
  [[nodiscard]] double measured_seconds() const noexcept {
    return std::chrono::duration<double>(stop - measure_from).count();
  }
};

// What one lane (a coroutine, a worker thread, the process dispatcher) saw. Lanes merge at the end, so the
// hot path touches no shared cache line; alignas(64) keeps neighbouring lanes' counters apart.
struct alignas(64) lane_stats {
  std::uint64_t completed = 0;
  std::uint64_t checksum_fold = 0;  // sum of request checksums: order-independent
  std::uint64_t measured = 0;
  latency_histogram latency;

  void complete(clock::time_point issued, clock::time_point done, std::uint64_t checksum,
                const load_window& w) noexcept {
    ++completed;
    checksum_fold += checksum;
    if (done >= w.measure_from && done <= w.stop) {
      ++measured;
      latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - issued).count()));
    }
  }
  void merge(const lane_stats& other) noexcept {
    completed += other.completed;
    checksum_fold += other.checksum_fold;
    measured += other.measured;
    latency.merge(other.latency);
  }
};

// Keeps `concurrency` requests outstanding: each lane asks for the next request as its last one
// completes, until the window closes. Request ids are 0, 1, 2, ... so the reference is a prefix.
class closed_loop {
 public:
  closed_loop(const workloads::workload_spec& spec, clock::duration warmup, clock::duration measure,
              unsigned concurrency) noexcept
      : m_spec(spec), m_warmup(warmup), m_measure(measure), m_concurrency(concurrency) {}

  // Opens the window. A runner calls it once its set-up is done, right before it issues the first request,
  // so set-up (starting threads, waking processes) is never counted as time without completions.
  // It also snapshots this process's resource usage, so CPU time and wall time cover the same interval.
  void begin() {
    m_usage_at_begin = resource_usage::of_this_process();
    m_window = load_window::starting_now(m_warmup, m_measure);
  }
  [[nodiscard]] const resource_usage& usage_at_begin() const noexcept { return m_usage_at_begin; }

  // The watchdog: no request may still be running this long after the window closed. Runners bound every
  // wait by deadline() and give up on what is left there (the cell becomes an error row).
  static constexpr clock::duration k_default_watchdog = std::chrono::seconds(60);
  void set_watchdog(clock::duration after_window) noexcept { m_watchdog = after_window; }
  [[nodiscard]] clock::time_point deadline() const noexcept { return m_window.stop + m_watchdog; }
  [[nodiscard]] clock::duration watchdog() const noexcept { return m_watchdog; }

  // Also ends the load after `n` requests, whichever comes first: a soak test's fixed request count.
  void limit_requests(std::uint64_t n) noexcept { m_limit = n; }

  // Safe from any thread. `now` is the caller's clock reading (usually the previous completion time).
  [[nodiscard]] std::optional<workloads::request> next(clock::time_point now) noexcept {
    if (now >= m_window.stop || interrupt_signal() != 0) return std::nullopt;
    // relaxed: the id only has to be unique; the request's data is built locally from it
    const std::uint64_t id = m_next_id.fetch_add(1, std::memory_order_relaxed);
    if (id >= m_limit) return std::nullopt;
    return m_spec.make(id);
  }

  [[nodiscard]] std::uint64_t issued() const noexcept {
    return std::min(m_next_id.load(std::memory_order_relaxed), m_limit);
  }
  [[nodiscard]] const load_window& window() const noexcept { return m_window; }
  [[nodiscard]] unsigned concurrency() const noexcept { return m_concurrency; }
  [[nodiscard]] const workloads::workload_spec& spec() const noexcept { return m_spec; }

 private:
  const workloads::workload_spec& m_spec;
  clock::duration m_warmup;
  clock::duration m_measure;
  load_window m_window;  // empty until begin(): next() issues nothing
  resource_usage m_usage_at_begin;
  unsigned m_concurrency;
  std::uint64_t m_limit = std::numeric_limits<std::uint64_t>::max();
  clock::duration m_watchdog = k_default_watchdog;
  std::atomic<std::uint64_t> m_next_id{0};
};

}  // namespace conpar::harness
