// procs: W forked worker processes fed through shared-memory rings: parallelism with isolated memory.
#include <signal.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness/core/machine.hpp"
#include "runners/pipeline_stage.hpp"
#include "runners/process_pool.hpp"
#include "runners/registry.hpp"

namespace conpar::runners {
namespace {

using namespace std::chrono_literals;
using harness::clock;

// Busy-wait budget (pause instructions, ~20 ns each, so ~40 us) while a core is free for it: it catches a
// quick answer without a futex round trip, yet if the scheduler puts both ends on one core anyway the
// spinner gives the core up long before a scheduler tick. With no free core it would only steal time.
constexpr int k_spins_with_free_core = 2000;
// How long the dispatcher blocks before it checks that its workers still live.
constexpr auto k_liveness_interval = 20ms;
// How often a busy dispatcher checks its workers (W waitpid calls: 1,000 workers cost ~1% of a core).
constexpr auto k_busy_liveness_interval = 100ms;
// How long settling an earlier cell or collecting usage reports may take before the workers are declared hung.
constexpr auto k_drain_limit = 30s;

class procs_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "procs"; }
  runner_shape shape() const noexcept override { return runner_shape::worker_pool; }

  void prepare(unsigned max_workers) override {
    if (max_workers > 0 && !m_pool) {
      m_pool = std::make_unique<process_pool>(max_workers);
      m_outstanding.assign(max_workers, 0);
      // One round trip to every worker now, so its first-touch page faults after fork() land here and
      // not in the first cell's numbers.
      m_workers = max_workers;
      (void)collect_usage(true);
    }
  }

  cell_outcome run(harness::load_driver& load, unsigned workers) override {
    if (!m_pool || workers > m_pool->size())
      throw runner_error("procs: the worker pool was started with " + std::to_string(m_pool ? m_pool->size() : 0) +
                         " processes, this cell needs " + std::to_string(workers));
    const std::size_t stages = pipeline_stages(load);
    if (stages > workers)
      throw runner_error("procs: a pipeline of " + std::to_string(stages) + " stages runs one worker process per stage; "
                         "this cell has " + std::to_string(workers));
    if (stages > 0 && load.concurrency() > k_ring_capacity)  // every item in flight may wait in one stage's ring
      throw runner_error("procs: a pipeline holds at most " + std::to_string(k_ring_capacity) + " items in flight, not " +
                         std::to_string(load.concurrency()));
    m_workers = workers;
    settle();
    // Spinning pays only with a core to spare: workers spin while each can own one and one is left for the
    // dispatcher, which needs a core of its own to refill their queues (at W = cores, spinning workers made
    // 1 us requests 40% slower: the dispatcher waited for a spinner's time slice); the dispatcher, which
    // mostly waits, only under the same condition.
    const unsigned cores = harness::available_cores();
    m_parent_spins = workers < cores ? k_spins_with_free_core : 0;
    // Requests outstanding per worker; past a ring's capacity the rest wait in the dispatcher (see dispatch()).
    const unsigned depth = std::min<unsigned>(load.concurrency() / workers, k_ring_capacity);
    for (unsigned w = 0; w < workers; ++w) {
      m_pool->slot(w).spins.store(workers < cores ? k_spins_with_free_core : 0, std::memory_order_relaxed);
      m_pool->slot(w).low_water.store(depth / 2, std::memory_order_relaxed);
    }

    const worker_report before = collect_usage(true);
    cell_outcome out;
    load.begin();
    m_pool->set_epoch(load.window().start);
    if (stages > 0)
      dispatch_pipeline(load, out, stages);
    else
      dispatch(load, out);
    const worker_report after = collect_usage(false);
    out.other_processes = after.usage - before.usage;
    out.worker_requests = after.requests - before.requests;
    for (std::size_t k = 0; k < stages; ++k)  // worker k ran stage k
      out.stage_busy_s.push_back(static_cast<double>(after.stage_busy_ns[k] - before.stage_busy_ns[k]) * 1e-9);
    return out;
  }

 private:
  // Issue times and ids of a worker's outstanding requests: a worker answers its jobs in order, so a FIFO
  // suffices; the ids name the requests lost if the worker dies.
  struct issue_fifo {
    std::array<clock::time_point, k_ring_capacity> at;
    std::array<std::uint64_t, k_ring_capacity> id;
    std::uint64_t head = 0, tail = 0;
  };

  // Queues a job for worker w without waking it: callers push a batch, then ring its bell once. A ring is an
  // RMW on a line the waiting worker reads, and a futex wake when it sleeps (~15 us of CPU in a VM).
  void push_job_quietly(unsigned w, const job& j) {
    if (!m_pool->slot(w).jobs.try_push(j)) throw runner_error("procs: job ring of worker " + std::to_string(w) + " overflowed");
    ++m_outstanding[w];
  }
  void push_job(unsigned w, const job& j) {
    push_job_quietly(w, j);
    m_pool->slot(w).job_bell.ring();
  }

  void dispatch(harness::load_driver& load, cell_outcome& out) {
    harness::lane_stats& stats = out.stats;
    std::vector<issue_fifo> fifo(m_workers);
    // Requests in flight beyond what the workers' rings hold (1,000 in flight on 2 workers) wait here, oldest
    // first, as they would in a thread pool's queue; their latency counts from their issue.
    std::deque<harness::scheduled_request> backlog;
    std::uint64_t in_flight = 0;
    const auto send = [&](unsigned w, const harness::scheduled_request& r) {
      issue_fifo& f = fifo[w];
      f.at[f.tail % k_ring_capacity] = r.due;
      f.id[f.tail++ % k_ring_capacity] = r.req.id;
      // Open loop: the worker itself waits until the request is due, so the dispatcher never holds one back.
      const auto due_us = load.open() ? static_cast<std::uint32_t>(
                                            std::chrono::duration_cast<std::chrono::microseconds>(r.due - load.window().start).count() + 1)
                                      : 0u;
      push_job_quietly(w, job{r.req, job_kind::run_request, 0, due_us});
    };
    // Gives worker w, which has room, its next request: the backlog's oldest, else a new one.
    const auto issue = [&](unsigned w, clock::time_point now) {
      auto r = load.next(now);
      if (r) ++in_flight;
      if (!backlog.empty()) {
        if (r) backlog.push_back(*r);
        r = backlog.front();
        backlog.pop_front();
      }
      if (r) send(w, *r);
    };
    for (unsigned i = 0; i < load.concurrency(); ++i) {
      const unsigned w = i % m_workers;
      if (m_outstanding[w] < k_ring_capacity) {
        issue(w, clock::now());
      } else if (auto r = load.next(clock::now())) {
        backlog.push_back(*r);
        ++in_flight;
      }
    }
    for (unsigned w = 0; w < m_workers; ++w) m_pool->slot(w).job_bell.ring();

    std::array<result, 64> batch;
    // Pops and completes what worker w has answered; false once its ring is empty.
    const auto harvest = [&](unsigned w, bool reissue) {
      const std::size_t n = m_pool->slot(w).results.pop_some(batch.data(), batch.size());
      const auto done = clock::now();
      for (std::size_t k = 0; k < n; ++k) {
        --m_outstanding[w];
        --in_flight;
        if (batch[k].status != result_status::ok) {
          m_outstanding[w] -= static_cast<std::uint32_t>(n - k - 1);  // popped with it: settle() must not wait for them
          throw std::runtime_error("procs worker " + std::to_string(w) + ": " + m_pool->slot(w).error);
        }
        issue_fifo& f = fifo[w];
        const auto due = f.at[f.head++ % k_ring_capacity];
        const auto started =
            batch[k].started_ns != 0 ? clock::time_point(std::chrono::nanoseconds(batch[k].started_ns)) : due;
        const auto finished = clock::time_point(std::chrono::nanoseconds(batch[k].done_ns));
        stats.complete(due, started, finished, batch[k].checksum, load.window());
        if (reissue) issue(w, done);  // the freed slot goes to the same worker: load stays balanced
      }
      if (reissue && n > 0) m_pool->slot(w).job_bell.ring();
      return n > 0;
    };
    // A dead worker's answered requests count; the rest are lost with it and reported. A fresh process takes
    // its place and its share of the load, so the cell goes on at the same concurrency.
    const auto replace_dead = [&] {
      m_deaths_seen = m_pool->deaths();
      for (unsigned w = 0; w < m_workers; ++w) {
        const auto death = m_pool->death_of(w);
        if (!death) continue;
        while (harvest(w, false)) {
        }
        issue_fifo& f = fifo[w];
        const auto lost = f.tail - f.head;
        for (; f.head != f.tail; ++f.head) out.lost.push_back(f.id[f.head % k_ring_capacity]);
        in_flight -= lost;
        m_outstanding[w] = 0;
        out.faults.push_back(*death + " during the cell; " + std::to_string(lost) + " requests in its queue were lost");
        m_pool->restart(w);
        for (std::uint64_t k = 0; k < lost; ++k) issue(w, clock::now());
        m_pool->slot(w).job_bell.ring();
      }
    };

    const auto drain = [&](unsigned w) {
      bool any = false;
      while (harvest(w, true)) any = true;
      return any;
    };
    drive(load, [&] { return in_flight == 0; }, drain, replace_dead, [&] { stop_hung_workers(load); });
  }

  // The dispatcher's loop until done(): drain(w) takes worker w's results (true if there were any) for each worker
  // that rang; on_death() handles a death; when nothing came, it waits for the next ring, and calls on_hung() (which
  // throws) once the cell's deadline passes with nothing.
  template <class Done, class Drain, class OnDeath, class OnHung>
  void drive(const harness::load_driver& load, Done done, Drain drain, OnDeath on_death, OnHung on_hung) {
    const unsigned words = (m_workers + 63) / 64;
    auto next_liveness_check = clock::now() + k_busy_liveness_interval;
    while (!done()) {
      if (m_pool->deaths() != m_deaths_seen) on_death();
      // The forkserver rings no bell when it dies itself: look every so often.
      if (const auto now = clock::now(); now > next_liveness_check) {
        check_forkserver();
        next_liveness_check = now + k_busy_liveness_interval;
      }
      const std::uint32_t seen = m_pool->result_bell().prepare();
      bool harvested = false;
      for (unsigned word = 0; word < words; ++word) {
        // acquire: pairs with the worker's release fetch_or, so its pushed results are visible.
        std::uint64_t bits = m_pool->ready_word(word).exchange(0, std::memory_order_acquire);
        // Drain fully: results pushed before the bit was set must not wait for another bit.
        for (; bits != 0; bits &= bits - 1)
          harvested |= drain(word * 64 + static_cast<unsigned>(std::countr_zero(bits)));
      }
      if (harvested || done() || m_pool->deaths() != m_deaths_seen) continue;
      if (!wait_for_results(seen, load.deadline())) on_hung();
    }
  }

  // A pipeline cell (see worker_slot): the parent issues each item to worker 0 and takes it back from the last
  // stage's worker, in the order it issued them, since every stage is one process that takes its ring in order. A
  // closed loop's item counts from its issue: the first stage's ring is one of the pipeline's bounded queues.
  void dispatch_pipeline(harness::load_driver& load, cell_outcome& out, std::size_t stages) {
    struct issued_item {
      clock::time_point due;
      std::uint64_t id;
    };
    std::deque<issued_item> in_flight;  // oldest first
    try {
      const auto issue = [&](clock::time_point now) {
        const auto r = load.next(now);
        if (!r) return;
        const stage_job sj{pipeline_item::issued(*r, r->due), 0, static_cast<std::uint16_t>(stages), load.open()};
        worker_slot& first = m_pool->slot(0);
        if (!first.stage_jobs.try_push(sj)) throw runner_error("procs: the pipeline's first ring overflowed");
        first.job_bell.ring();
        in_flight.push_back({r->due, r->req.id});
      };
      for (unsigned i = 0; i < load.concurrency(); ++i) issue(clock::now());

      std::array<result, 64> batch;
      const auto drain = [&](unsigned w) {
        bool any = false;
        for (std::size_t n; (n = m_pool->slot(w).results.pop_some(batch.data(), batch.size())) > 0;) {
          any = true;
          const auto done = clock::now();
          for (std::size_t k = 0; k < n; ++k) {
            const result& res = batch[k];
            if (res.status != result_status::ok)
              throw runner_error("procs worker " + std::to_string(w) + ": " + m_pool->slot(w).error);
            if (in_flight.empty() || res.id != in_flight.front().id)
              throw runner_error("procs: pipeline item " + std::to_string(res.id) + " came out of order");
            const auto [due, id] = in_flight.front();
            in_flight.pop_front();
            const auto started =
                res.started_ns != 0 ? clock::time_point(std::chrono::nanoseconds(res.started_ns)) : due;
            out.stats.complete(due, started, clock::time_point(std::chrono::nanoseconds(res.done_ns)), res.checksum,
                               load.window());
            issue(done);  // the freed place goes to the next item
          }
        }
        return any;
      };
      const auto on_death = [&] {
        m_deaths_seen = m_pool->deaths();
        for (unsigned w = 0; w < m_workers; ++w)
          if (const auto death = m_pool->death_of(w))
            throw runner_error(*death + " during the pipeline cell; " + std::to_string(in_flight.size()) +
                               " items were in the pipeline");
      };
      const auto on_hung = [&] {
        throw runner_error("watchdog: " + std::to_string(in_flight.size()) + " items still in the pipeline " +
                           std::to_string(std::chrono::duration<double>(load.watchdog()).count()) +
                           " s after the window closed (--cell-timeout)");
      };
      drive(load, [&] { return in_flight.empty(); }, drain, on_death, on_hung);
    } catch (const std::exception& e) {
      // The items in flight are spread over the stages' rings, and a dead stage would stall the one before it:
      // every worker of the pipeline is stopped, and settle() restarts them for the next cell.
      stop_workers(static_cast<unsigned>(stages));
      throw runner_error(std::string(e.what()) + "; stopped the pipeline's " + std::to_string(stages) +
                         " worker processes (restarted before the next cell)");
    }
  }

  // Kills workers 0 .. n-1 and waits until the forkserver has reaped them, so nothing touches their rings any more.
  void stop_workers(unsigned n) {
    for (unsigned w = 0; w < n; ++w)
      if (!m_pool->death_of(w)) ::kill(m_pool->pid(w), SIGKILL);
    const auto deadline = clock::now() + k_drain_limit;
    for (unsigned w = 0; w < n; ++w) {
      for (;;) {
        const std::uint32_t seen = m_pool->result_bell().prepare();  // the forkserver rings it on every death
        if (m_pool->death_of(w)) break;
        check_forkserver();
        if (clock::now() > deadline) throw runner_error("procs: worker " + std::to_string(w) + " did not die of SIGKILL");
        m_pool->result_bell().wait(seen, k_liveness_interval);
      }
      m_outstanding[w] = 0;  // its jobs are gone with it
    }
  }

  // Blocks until a worker rings after `seen`, checking liveness between bounded waits; false once `deadline`
  // has passed with nothing rung.
  [[nodiscard]] bool wait_for_results(std::uint32_t seen, clock::time_point deadline) {
    doorbell& bell = m_pool->result_bell();
    const auto moved = [&] { return bell.m_seq.load(std::memory_order_acquire) != seen; };
    while (!spin_then_wait(bell, moved, m_parent_spins, k_liveness_interval)) {
      check_forkserver();
      if (m_pool->deaths() != m_deaths_seen) return true;  // the caller handles the death
      if (clock::now() > deadline) return false;
    }
    return true;
  }

  // The watchdog: requests still out at the cell's deadline will not come back. Their workers are killed
  // (settle() restarts them for the next cell) and the cell fails, naming them.
  [[noreturn]] void stop_hung_workers(const harness::load_driver& load) {
    std::string hung;
    std::uint64_t outstanding = 0;
    for (unsigned w = 0; w < m_workers; ++w) {
      if (m_outstanding[w] == 0 || m_pool->death_of(w)) continue;
      outstanding += m_outstanding[w];
      hung += (hung.empty() ? "" : ", ") + std::to_string(w);
      ::kill(m_pool->pid(w), SIGKILL);
    }
    std::ostringstream what;
    what << "watchdog: " << outstanding << " requests still outstanding "
         << std::chrono::duration<double>(load.watchdog()).count()
         << " s after the window closed (--cell-timeout); killed the hung workers (" << hung << ")";
    throw runner_error(what.str());
  }

  void check_forkserver() {
    if (auto death = m_pool->forkserver_death()) throw runner_error("procs: " + *death);
  }

  // Outside a cell's dispatch (usage reports, settling) a death cannot be absorbed: it fails the step.
  void check_alive() {
    check_forkserver();
    for (unsigned w = 0; w < m_workers; ++w)
      if (auto death = m_pool->death_of(w)) throw runner_error("procs: " + *death);
  }

  struct worker_report {
    harness::resource_usage usage;
    std::uint64_t requests = 0;
    std::vector<std::int64_t> stage_busy_ns;  // per worker
  };

  // Asks each worker for its resource usage and request count; the sums are what the cell's workers did.
  worker_report collect_usage(bool reset_peak) {
    for (unsigned w = 0; w < m_workers; ++w) push_job(w, job{{}, job_kind::report_usage, static_cast<std::uint16_t>(reset_peak ? 1 : 0), 0});
    worker_report sum;
    sum.stage_busy_ns.resize(m_workers);
    unsigned answered = 0;
    const auto deadline = clock::now() + k_drain_limit;
    while (answered < m_workers) {
      const std::uint32_t seen = m_pool->result_bell().prepare();
      for (unsigned w = 0; w < m_workers; ++w) {
        result r;
        if (m_outstanding[w] == 0 || !m_pool->slot(w).results.try_pop(r)) continue;
        --m_outstanding[w];
        if (r.kind == job_kind::report_usage) {
          sum.usage += m_pool->slot(w).usage;
          sum.requests += m_pool->slot(w).requests_done;
          sum.stage_busy_ns[w] = m_pool->slot(w).stage_busy_ns;
          ++answered;
        }
      }
      if (answered >= m_workers) break;
      if (m_pool->deaths() != m_deaths_seen) check_alive();
      if (!wait_for_results(seen, deadline))
        throw runner_error("procs: workers did not report their usage within " + std::to_string(k_drain_limit.count()) + " s");
    }
    return sum;
  }

  // After a failed cell, live workers may still hold jobs: drain them so the next cell starts clean, and
  // replace the workers that died, so one death costs one cell, not every later one.
  void settle() {
    const auto deadline = clock::now() + k_drain_limit;
    for (;;) {
      const std::uint32_t seen = m_pool->result_bell().prepare();
      bool pending = false;
      for (unsigned w = 0; w < m_pool->size(); ++w) {
        result r;
        while (m_outstanding[w] > 0 && m_pool->slot(w).results.try_pop(r)) --m_outstanding[w];
        if (m_outstanding[w] == 0) continue;
        if (m_pool->death_of(w)) {
          m_outstanding[w] = 0;  // its jobs are gone with it
          continue;
        }
        pending = true;
      }
      if (!pending) break;
      if (clock::now() > deadline) throw runner_error("procs: workers did not finish an earlier cell's requests");
      m_pool->result_bell().wait(seen, k_liveness_interval);
    }
    check_forkserver();
    m_deaths_seen = m_pool->deaths();
    for (unsigned w = 0; w < m_pool->size(); ++w)
      if (m_pool->death_of(w)) m_pool->restart(w);
  }

  std::unique_ptr<process_pool> m_pool;
  std::vector<std::uint32_t> m_outstanding;  // jobs sent minus results received, per worker
  unsigned m_workers = 0;
  int m_parent_spins = 0;
  std::uint32_t m_deaths_seen = 0;  // the pool's death count when the dead were last replaced
};

}  // namespace

std::unique_ptr<runner> make_procs_runner() { return std::make_unique<procs_runner>(); }

}  // namespace conpar::runners
