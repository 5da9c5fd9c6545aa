// The load every runner executes: which request is issued when, and what each lane saw. Closed loop (a
// lane issues its next request when its last one completes) or open loop (requests are due at scheduled
// times at an offered rate, and latency counts from the scheduled start: no coordinated omission).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "harness/core/interrupt.hpp"
#include "harness/core/latency_histogram.hpp"
#include "harness/core/resource_usage.hpp"
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
  latency_histogram latency;  // from the request's due time (closed loop: its issue) to its completion
  // Open loop only: from the actual start to the completion. Allocated on first use, so closed-loop lanes
  // (a thousand threads' worth) carry no second histogram.
  std::unique_ptr<latency_histogram> service;

  void complete(clock::time_point issued, clock::time_point done, std::uint64_t checksum,
                const load_window& w) noexcept {
    ++completed;
    checksum_fold += checksum;
    if (done >= w.measure_from && done <= w.stop) {
      ++measured;
      latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - issued).count()));
    }
  }
  // A request due at `due` and started at `started`. In an open loop it starts later than due when every lane
  // was busy, and its service time is recorded too; a closed-loop request starts when issued (started ==
  // due), and its service time is its latency.
  void complete(clock::time_point due, clock::time_point started, clock::time_point done, std::uint64_t checksum,
                const load_window& w) {
    complete(due, done, checksum, w);
    if (started != due && done >= w.measure_from && done <= w.stop) {
      if (!service) service = std::make_unique<latency_histogram>();
      service->record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - started).count()));
    }
  }
  void merge(const lane_stats& other) {
    completed += other.completed;
    checksum_fold += other.checksum_fold;
    measured += other.measured;
    latency.merge(other.latency);
    if (other.service) {
      if (!service) service = std::make_unique<latency_histogram>();
      service->merge(*other.service);
    }
  }
};

// How open-loop requests arrive: evenly spaced, or as a Poisson process (exponential gaps, seeded).
enum class arrival { constant, poisson };

// A request and the time it is due: its issue time in a closed loop, its scheduled start in an open one.
struct scheduled_request {
  workloads::request req;
  clock::time_point due;
};

// For blocking lanes, given the lane's last clock reading: sleeps until `due` if it is still ahead, and returns
// the start time. A closed loop's request is due at `now`, so it reads no extra clock.
[[nodiscard]] inline clock::time_point start_when_due(clock::time_point due, clock::time_point now) {
  if (due <= now) return now;
  std::this_thread::sleep_until(due);
  return clock::now();
}

// Closed loop by default: keeps `concurrency` requests outstanding, each lane asking for the next request as
// its last one completes. set_open_loop() turns it into an open loop at an offered rate, the lanes taking
// the requests in order of their due times. Request ids are 0, 1, 2, ... so the reference is a prefix.
class load_driver {
 public:
  load_driver(const workloads::workload_spec& spec, clock::duration warmup, clock::duration measure,
              unsigned concurrency) noexcept
      : m_spec(spec), m_warmup(warmup), m_measure(measure), m_concurrency(concurrency) {}

  // Requests due at `per_second` from the window's start; call before begin(). The schedule is computed
  // here, so drawing it costs nothing inside the window.
  void set_open_loop(double per_second, arrival kind, std::uint64_t seed);
  [[nodiscard]] bool open() const noexcept { return m_offered_per_second > 0; }
  [[nodiscard]] double offered_per_second() const noexcept { return m_offered_per_second; }
  // Open loop: how many requests the schedule had due inside the measured window. Poisson arrivals put
  // ~sqrt(n) more or fewer there than rate x window; saturation is judged against this count, not the rate.
  [[nodiscard]] std::uint64_t scheduled_in_window() const noexcept;

  // Opens the window. A runner calls it once its set-up is done, right before it issues the first request,
  // so set-up (starting threads, waking processes) is never counted as time without completions.
  // It also snapshots this process's resource usage, so CPU time and wall time cover the same interval.
  void begin() {
    m_usage_at_begin = resource_usage::of_this_process();
    m_window = load_window::starting_now(m_warmup, m_measure);
    m_stall_at = m_stall.count() > 0 ? m_window.measure_from + (m_window.stop - m_window.measure_from) / 2
                                     : clock::time_point::max();
  }
  [[nodiscard]] const resource_usage& usage_at_begin() const noexcept { return m_usage_at_begin; }

  // The watchdog: no request may still be running this long after the window closed. Runners bound every
  // wait by deadline() and give up on what is left there (the cell becomes an error row).
  static constexpr clock::duration k_default_watchdog = std::chrono::seconds(60);
  void set_watchdog(clock::duration after_window) noexcept { m_watchdog = after_window; }
  [[nodiscard]] clock::time_point deadline() const noexcept { return m_window.stop + m_watchdog; }
  [[nodiscard]] clock::duration watchdog() const noexcept { return m_watchdog; }

  // Also ends the load after `n` requests, whichever comes first: a soak test's fixed request count.
  void limit_requests(std::uint64_t n) noexcept { m_limit = std::min(m_limit, n); }

  // Test-only: the lane that asks for a request half-way through the window first is frozen this long, as a
  // garbage-collection pause or a page-fault storm would freeze it (the coordinated-omission demonstration).
  void plant_stall(clock::duration stall) noexcept { m_stall = stall; }

  // Safe from any thread. `now` is the caller's clock reading (usually the previous completion time). In an
  // open loop the request may be due later than `now`: the lane waits until then before it starts it.
  [[nodiscard]] std::optional<scheduled_request> next(clock::time_point now) noexcept {
    if (now >= m_window.stop || interrupt_signal() != 0) return std::nullopt;
    if (now >= m_stall_at && !m_stalled.exchange(true, std::memory_order_relaxed)) freeze();
    // relaxed: the id only has to be unique; the request's data is built locally from it
    const std::uint64_t id = m_next_id.fetch_add(1, std::memory_order_relaxed);
    if (id >= m_limit) return std::nullopt;
    return scheduled_request{m_spec.make(id), open() ? m_window.start + m_due[id] : now};
  }

  [[nodiscard]] std::uint64_t issued() const noexcept {
    return std::min(m_next_id.load(std::memory_order_relaxed), m_limit);
  }
  [[nodiscard]] const load_window& window() const noexcept { return m_window; }
  [[nodiscard]] unsigned concurrency() const noexcept { return m_concurrency; }
  [[nodiscard]] const workloads::workload_spec& spec() const noexcept { return m_spec; }

 private:
  void freeze() const noexcept;

  const workloads::workload_spec& m_spec;
  clock::duration m_warmup;
  clock::duration m_measure;
  load_window m_window;  // empty until begin(): next() issues nothing
  resource_usage m_usage_at_begin;
  unsigned m_concurrency;
  std::uint64_t m_limit = std::numeric_limits<std::uint64_t>::max();
  clock::duration m_watchdog = k_default_watchdog;
  double m_offered_per_second = 0;      // 0: closed loop
  std::vector<clock::duration> m_due;   // open loop: request id -> due time after the window's start
  clock::duration m_stall{0};
  clock::time_point m_stall_at = clock::time_point::max();
  std::atomic<bool> m_stalled{false};
  std::atomic<std::uint64_t> m_next_id{0};
};

}  // namespace conpar::harness
