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
#include <span>
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

  [[nodiscard]] double measured_seconds() const noexcept {
    return std::chrono::duration<double>(stop - measure_from).count();
  }
};

// Open-loop service times (actual start to completion). On the heap, made on first use, so closed-loop lanes
// (a thousand threads' worth) carry no second histogram...
struct heap_service {
  std::unique_ptr<latency_histogram> m_h;
  latency_histogram& use() {
    if (!m_h) m_h = std::make_unique<latency_histogram>();
    return *m_h;
  }
  [[nodiscard]] const latency_histogram* get() const noexcept { return m_h.get(); }
};
// ...or inline, for a lane in shared memory that another process reads: it can point to nothing.
struct inline_service {
  latency_histogram m_h;
  bool m_used = false;
  latency_histogram& use() noexcept {
    m_used = true;
    return m_h;
  }
  [[nodiscard]] const latency_histogram* get() const noexcept { return m_used ? &m_h : nullptr; }
};

// What one lane (a coroutine, a worker thread, a worker process) saw. Lanes merge at the end, so the hot path
// touches no shared cache line; alignas(64) keeps neighbouring lanes' counters apart.
template <class Service>
struct alignas(64) basic_lane_stats {
  std::uint64_t completed = 0;
  std::uint64_t checksum_fold = 0;  // sum of request checksums: order-independent
  std::uint64_t measured = 0;
  latency_histogram latency;  // from the request's due time (closed loop: its issue) to its completion
  Service service;            // open loop only: from the actual start to the completion

  // A request due at `due` and started at `started`. In an open loop it starts later than due when every lane
  // was busy, and its service time is recorded too; a closed-loop request starts when issued (started ==
  // due), and its service time is its latency.
  void complete(clock::time_point due, clock::time_point started, clock::time_point done, std::uint64_t checksum,
                const load_window& w) {
    ++completed;
    checksum_fold += checksum;
    if (done < w.measure_from || done > w.stop) return;
    ++measured;
    latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - due).count()));
    if (started != due) service.use().record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - started).count()));
  }
  template <class S>
  void merge(const basic_lane_stats<S>& other) {
    completed += other.completed;
    checksum_fold += other.checksum_fold;
    measured += other.measured;
    latency.merge(other.latency);
    if (const latency_histogram* s = other.service.get()) service.use().merge(*s);
  }
};
using lane_stats = basic_lane_stats<heap_service>;
using shared_lane_stats = basic_lane_stats<inline_service>;  // fixed-size: lives in shared memory (procs)
static_assert(std::is_trivially_copyable_v<shared_lane_stats>);

// How open-loop requests arrive: evenly spaced, or as a Poisson process (exponential gaps, seeded).
enum class arrival { constant, poisson };

// A request and the time it is due: its issue time in a closed loop, its scheduled start in an open one.
struct scheduled_request {
  workloads::request req;
  clock::time_point due;
};

// Ids [first, last), claimed by one lane at once.
struct id_block {
  std::uint64_t first = 0, last = 0;
};

// What the lanes of a cell share: the window, the next request id, the open loop's schedule, the stop flag. Plain
// data and lock-free atomics, so it can live in shared memory, where worker processes run lanes on it (procs).
//
// A closed loop's measured window opens once the fixed warm-up has passed AND every lane has completed a request
// (10,000 connections take longer to open than any fixed warm-up), but at the latest k_max_warmup after the fixed
// one; it then lasts the planned time. Until it opens, it starts and ends at time_point::max(): nothing counts.
struct load_state {
  // How long a closed loop waits past its fixed warm-up for every lane's first completion.
  static constexpr clock::duration k_max_warmup = std::chrono::seconds(5);

  workloads::request prototype{};
  clock::time_point start{};                       // when begin() opened the cell
  clock::time_point warmup_end{};                  // the fixed warm-up's end: the earliest the window opens
  clock::duration measure{0};                      // the measured window's length
  clock::time_point deadline = clock::time_point::max();
  clock::time_point stall_at = clock::time_point::max();
  clock::duration stall{0};
  const clock::duration* due = nullptr;  // open loop: request id -> due time after the window's start
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  unsigned concurrency = 1;
  unsigned lanes = 0;  // lanes that must each complete a request before the window opens (0: fixed warm-up only)
  bool open = false;
  // Own cache line: every claim writes it, and nothing else should pay for that.
  alignas(64) std::atomic<std::uint64_t> next_id{0};
  // Read by every completion, written once when the window opens.
  alignas(64) std::atomic<clock::rep> measure_from_ticks{clock::time_point::max().time_since_epoch().count()};
  std::atomic<clock::rep> stop_ticks{clock::time_point::max().time_since_epoch().count()};
  std::atomic<unsigned> warm{0};  // lanes that have completed a request
  std::atomic<bool> window_open{false};
  alignas(64) std::atomic<bool> stop{false};  // set by the owner: a worker process sees no SIGINT of its own
  std::atomic<bool> stalled{false};

  // The plain fields of `o`, with the atomics reset: a cell's load as it is before its window opens.
  void configure_like(const load_state& o) noexcept;

  // The window as it stands: before it opens, measure_from and stop are time_point::max().
  [[nodiscard]] load_window window() const noexcept {
    return {start, clock::time_point(clock::duration(measure_from_ticks.load(std::memory_order_relaxed))),
            clock::time_point(clock::duration(stop_ticks.load(std::memory_order_relaxed)))};
  }
  // Opens the measured window at max(the fixed warm-up's end, `now`), once.
  void open_window(clock::time_point now) noexcept {
    if (window_open.exchange(true, std::memory_order_acq_rel)) return;
    const auto from = std::max(warmup_end, now);
    stop_ticks.store((from + measure).time_since_epoch().count(), std::memory_order_relaxed);
    measure_from_ticks.store(from.time_since_epoch().count(), std::memory_order_relaxed);
  }
  // A lane's first completion: the last lane to complete one opens the window.
  void lane_warm(clock::time_point now) noexcept {
    if (warm.fetch_add(1, std::memory_order_relaxed) + 1 >= lanes) open_window(now);
  }

  [[nodiscard]] bool stopping() const noexcept {
    return stop.load(std::memory_order_relaxed) || interrupt_signal() != 0;
  }
  // Up to `n` ids, or none once the window has closed, the load was stopped or the limit reached. Every id
  // claimed is issued by its lane, even past the window's end, so the issued ids are always 0 .. issued() - 1.
  [[nodiscard]] std::optional<id_block> claim(clock::time_point now, std::uint64_t n) noexcept {
    if (!window_open.load(std::memory_order_relaxed) && now >= warmup_end + k_max_warmup) open_window(now);
    if (now >= clock::time_point(clock::duration(stop_ticks.load(std::memory_order_relaxed))) || stopping())
      return std::nullopt;
    if (now >= stall_at && !stalled.exchange(true, std::memory_order_relaxed)) std::this_thread::sleep_for(stall);
    // relaxed: the ids only have to be unique; a request's data is built locally from its id
    const std::uint64_t first = next_id.fetch_add(n, std::memory_order_relaxed);
    if (first >= limit) return std::nullopt;
    return id_block{first, std::min(first + n, limit)};
  }
  // When request `id` is due: at `now` (its issue) in a closed loop, at its scheduled time in an open one.
  [[nodiscard]] clock::time_point due_time(std::uint64_t id, clock::time_point now) const noexcept {
    return open ? start + due[id] : now;
  }
  [[nodiscard]] workloads::request make(std::uint64_t id) const noexcept {
    workloads::request r = prototype;
    r.id = id;
    return r;
  }
  [[nodiscard]] std::uint64_t issued() const noexcept {
    return std::min(next_id.load(std::memory_order_relaxed), limit);
  }
};

// For blocking lanes: sleeps until `due` if it is still ahead, in slices so a stopped load (SIGINT) is seen
// within k_stop_poll even when the next arrival is minutes away, and returns the start time.
inline constexpr auto k_stop_poll = std::chrono::milliseconds(10);
[[nodiscard]] inline clock::time_point start_when_due(const load_state& load, clock::time_point due,
                                                      clock::time_point now) {
  while (due > now && !load.stopping()) {
    std::this_thread::sleep_until(std::min(due, now + k_stop_poll));
    now = clock::now();
  }
  return now;
}

// Closed loop by default: keeps `concurrency` requests outstanding, each lane asking for the next request as
// its last one completes. set_open_loop() turns it into an open loop at an offered rate, the lanes taking
// the requests in order of their due times. Request ids are 0, 1, 2, ... so the reference is a prefix.
class load_driver {
 public:
  load_driver(const workloads::workload_spec& spec, clock::duration warmup, clock::duration measure,
              unsigned concurrency) noexcept
      : m_spec(spec), m_warmup(warmup), m_measure(measure) {
    m_own.prototype = spec.prototype;
    m_own.concurrency = concurrency;
  }

  // Requests due at `per_second` from the window's start; call before begin(). The schedule is computed
  // here, so drawing it costs nothing inside the window.
  void set_open_loop(double per_second, arrival kind, std::uint64_t seed);
  [[nodiscard]] bool open() const noexcept { return m_offered_per_second > 0; }
  [[nodiscard]] double offered_per_second() const noexcept { return m_offered_per_second; }
  // Open loop: how many requests the schedule had due inside the measured window. Poisson arrivals put
  // ~sqrt(n) more or fewer there than rate x window; saturation is judged against this count, not the rate.
  [[nodiscard]] std::uint64_t scheduled_in_window() const noexcept;
  [[nodiscard]] std::span<const clock::duration> schedule() const noexcept { return m_due; }

  // Moves the lanes' shared state to `where` (shared memory, so worker processes can run lanes on it), with the
  // schedule copied to `schedule` (as long as schedule()); call before begin(). state() is then `where`.
  void share(load_state& where, std::span<clock::duration> schedule) noexcept;

  // A closed loop's measured window opens only once each of `n` lanes has completed a request (see load_state);
  // a runner that runs its requests on lane objects says how many before begin(). Open loops keep their schedule's
  // window: the fixed warm-up only.
  void expect_lanes(unsigned n) noexcept { m_live->lanes = n; }

  // Opens the cell. A runner calls it once its set-up is done, right before it issues the first request,
  // so set-up (starting threads, waking processes) is never counted as time without completions.
  // It also snapshots this process's resource usage, so CPU time and wall time cover the same interval.
  void begin();
  [[nodiscard]] const resource_usage& usage_at_begin() const noexcept { return m_usage_at_begin; }

  // The watchdog: no request may still be running this long after the window closed. Runners bound every
  // wait by deadline() and give up on what is left there (the cell becomes an error row).
  static constexpr clock::duration k_default_watchdog = std::chrono::seconds(60);
  void set_watchdog(clock::duration after_window) noexcept { m_watchdog = after_window; }
  [[nodiscard]] clock::time_point deadline() const noexcept { return m_live->deadline; }
  [[nodiscard]] clock::duration watchdog() const noexcept { return m_watchdog; }

  // Also ends the load after `n` requests, whichever comes first: a soak test's fixed request count.
  void limit_requests(std::uint64_t n) noexcept { m_live->limit = std::min(m_live->limit, n); }

  // Test-only: the lane that asks for a request half-way through the window first is frozen this long, as a
  // garbage-collection pause or a page-fault storm would freeze it (the coordinated-omission demonstration).
  void plant_stall(clock::duration stall) noexcept { m_live->stall = stall; }

  // Ends the load early: lanes issue nothing more and drain what they hold.
  void stop() noexcept { m_live->stop.store(true, std::memory_order_relaxed); }

  // One request: what a pipeline's single producer asks for. Safe from any thread. `now` is the caller's clock
  // reading; in an open loop the request may be due later than `now`: the caller waits until then.
  [[nodiscard]] std::optional<scheduled_request> next(clock::time_point now) noexcept {
    const auto ids = m_live->claim(now, 1);
    if (!ids) return std::nullopt;
    return scheduled_request{m_live->make(ids->first), m_live->due_time(ids->first, now)};
  }

  [[nodiscard]] load_state& state() noexcept { return *m_live; }
  [[nodiscard]] std::uint64_t issued() const noexcept { return m_live->issued(); }
  [[nodiscard]] load_window window() const noexcept { return m_live->window(); }
  [[nodiscard]] unsigned concurrency() const noexcept { return m_live->concurrency; }
  [[nodiscard]] const workloads::workload_spec& spec() const noexcept { return m_spec; }

 private:
  const workloads::workload_spec& m_spec;
  clock::duration m_warmup;
  clock::duration m_measure;
  resource_usage m_usage_at_begin;
  clock::duration m_watchdog = k_default_watchdog;
  double m_offered_per_second = 0;     // 0: closed loop
  std::vector<clock::duration> m_due;  // open loop: request id -> due time after the window's start
  load_state m_own;
  load_state* m_live = &m_own;  // m_own, or the shared copy share() made
};

}  // namespace conpar::harness
