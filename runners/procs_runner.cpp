// procs: W forked worker processes, each running its own lane from a load in shared memory: parallelism with
// isolated memory. The parent starts the cell, watches liveness and the watchdog, and merges at the end; no
// request passes through it.
#include <signal.h>

#include <algorithm>
#include <chrono>
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

// A pipeline stage's busy-wait budget (pause instructions, ~20 ns each, so ~40 us) while every stage can have a
// core: it catches the next item without a futex round trip. With no core to spare it would only steal time.
constexpr int k_spins_with_free_core = 2000;
// How long the parent blocks before it checks liveness, the watchdog and SIGINT.
constexpr auto k_liveness_interval = 20ms;
// How long setting up a cell or stopping workers may take before the workers are declared hung.
constexpr auto k_setup_limit = 30s;

class procs_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "procs"; }
  runner_shape shape() const noexcept override { return runner_shape::worker_pool; }

  void prepare(unsigned max_workers) override {
    if (max_workers > 0 && !m_pool) m_pool = std::make_unique<process_pool>(max_workers);
  }

  cell_outcome run(harness::load_driver& load, unsigned workers) override {
    const std::size_t stages = check_fits(load, workers);
    settle();
    // A plain cell runs min(W, C) lanes, one per worker, each with its share of the C requests in flight (as the
    // threads runner's lanes); a pipeline one stage per worker.
    const unsigned lanes = stages > 0 ? static_cast<unsigned>(stages) : std::min(workers, load.concurrency());
    cell_control& cell = m_pool->cell();
    cell.workers = lanes;
    cell.depth = load.concurrency() / lanes;
    cell.extra = load.concurrency() % lanes;
    cell.stages = static_cast<std::uint32_t>(stages);
    cell.spins = stages < harness::available_cores() ? k_spins_with_free_core : 0;
    cell.batch = std::max(1u, load.concurrency() / 4);  // a quarter of the places: the rest keep the stages busy
    cell.in_pipeline.store(0, std::memory_order_relaxed);
    cell.stages_done.store(0, std::memory_order_relaxed);
    if (stages == 0) load.expect_lanes(lanes);
    load.share(cell.load, m_pool->schedule());
    const std::uint32_t gen = cell.gen.load(std::memory_order_relaxed) + 1;
    cell.gen.store(gen, std::memory_order_release);  // release: the cell above before the workers see it
    ring(lanes);
    wait_until(
        [&] {
          for (unsigned w = 0; w < lanes; ++w)
            if (m_pool->slot(w).ready_gen.load(std::memory_order_acquire) != gen) return false;
          return true;
        },
        "set up for the cell");

    cell_outcome out;
    load.begin();  // the window opens once every worker is ready
    cell.go.store(gen, std::memory_order_release);
    ring(lanes);
    watch(load, lanes, gen, out);
    for (unsigned w = 0; w < lanes; ++w) {
      out.stats.merge(m_pool->lane(w).stats);
      m_pool->release_lane(w);
      out.other_processes += m_pool->slot(w).usage;
    }
    for (std::size_t k = 0; k < stages; ++k)  // worker k ran stage k
      out.stage_busy_s.push_back(static_cast<double>(m_pool->slot(static_cast<unsigned>(k)).stage_busy_ns) * 1e-9);
    return out;
  }

 private:
  // The pipeline's stage count; throws for a cell the pool cannot run.
  std::size_t check_fits(const harness::load_driver& load, unsigned workers) const {
    if (!m_pool || workers > m_pool->size())
      throw runner_error("procs: the worker pool was started with " + std::to_string(m_pool ? m_pool->size() : 0) +
                         " processes, this cell needs " + std::to_string(workers));
    const std::size_t stages = pipeline_stages(load);
    if (stages > workers)
      throw runner_error("procs: a pipeline of " + std::to_string(stages) + " stages runs one worker process per stage; "
                         "this cell has " + std::to_string(workers));
    if (stages > 0 && load.concurrency() > k_stage_ring_capacity)  // every item in flight may wait in one stage's ring
      throw runner_error("procs: a pipeline holds at most " + std::to_string(k_stage_ring_capacity) +
                         " items in flight, not " + std::to_string(load.concurrency()));
    if (stages == 0 && (load.concurrency() + workers - 1) / workers > k_max_depth_per_worker)
      throw runner_error("procs: at most " + std::to_string(k_max_depth_per_worker) + " requests in flight per worker; " +
                         std::to_string(load.concurrency()) + " on " + std::to_string(workers) + " workers is more");
    if (load.schedule().size() > k_max_schedule)
      throw runner_error("procs: an open-loop schedule of at most " + std::to_string(k_max_schedule) + " requests, not " +
                         std::to_string(load.schedule().size()) + ": lower --rate or --duration");
    return stages;
  }

  void ring(unsigned n) {
    for (unsigned w = 0; w < n; ++w) m_pool->slot(w).bell.ring();
  }

  // Waits for the cell's lanes to finish: handles a death (its requests reported lost, the worker replaced),
  // passes SIGINT on as the load's stop flag, and at the deadline kills what still runs (the watchdog).
  void watch(harness::load_driver& load, unsigned lanes, std::uint32_t gen, cell_outcome& out) {
    const bool pipeline = m_pool->cell().stages > 0;
    std::uint32_t deaths_seen = m_pool->deaths();
    std::string failure;
    for (;;) {
      const std::uint32_t seen = m_pool->result_bell().prepare();
      unsigned done = 0;
      for (unsigned w = 0; w < lanes; ++w) {
        worker_slot& s = m_pool->slot(w);
        if (s.done_gen.load(std::memory_order_acquire) == gen) {
          ++done;
          if (s.error[0] != '\0' && failure.empty()) {
            failure = "procs worker " + std::to_string(w) + ": " + s.error;
            load.stop();  // the others drain and end
            ring(lanes);
          }
        }
      }
      if (done == lanes) break;
      check_forkserver();
      if (m_pool->deaths() != deaths_seen) {
        deaths_seen = m_pool->deaths();
        if (pipeline) fail_pipeline(lanes, first_death(lanes) + " during the pipeline cell");
        replace_dead(lanes, gen, out);
        continue;
      }
      if (harness::interrupt_signal() != 0 && !load.state().stop.load(std::memory_order_relaxed)) {
        load.stop();
        ring(lanes);
      }
      if (clock::now() > load.deadline()) stop_hung(load, lanes, gen);
      m_pool->result_bell().wait(seen, k_liveness_interval);
    }
    if (!failure.empty()) {
      if (pipeline) fail_pipeline(lanes, failure);
      throw runner_error(failure);
    }
  }

  [[nodiscard]] std::string first_death(unsigned lanes) const {
    for (unsigned w = 0; w < lanes; ++w)
      if (const auto death = m_pool->death_of(w)) return *death;
    return "a worker died";
  }

  // A worker that died mid-cell: what it completed counts, what it held is lost (issued = completed + lost, each
  // id once), and a fresh process takes its lane, so the cell goes on at the same concurrency.
  void replace_dead(unsigned lanes, std::uint32_t gen, cell_outcome& out) {
    for (unsigned w = 0; w < lanes; ++w) {
      const auto death = m_pool->death_of(w);
      if (!death) continue;
      worker_lane& l = m_pool->lane(w);
      std::size_t lost = 0;
      if (m_pool->slot(w).done_gen.load(std::memory_order_acquire) != gen) {
        const unsigned depth = m_pool->cell().depth + (w < m_pool->cell().extra ? 1 : 0);
        const auto ids = harness::lost_with(l.record, l.ring_for(depth), l.stats);
        out.lost.insert(out.lost.end(), ids.begin(), ids.end());
        lost = ids.size();
      }
      out.stats.merge(l.stats);  // before the new worker resets the lane
      out.faults.push_back(*death + " during the cell; " + std::to_string(lost) + " requests it held were lost");
      m_pool->restart(w, true);
    }
  }

  // A pipeline's items are spread over its stages' rings, and a dead or failed stage stalls the others: every
  // worker of the pipeline is stopped, and settle() restarts them for the next cell.
  [[noreturn]] void fail_pipeline(unsigned stages, const std::string& why) {
    stop_workers(stages, [](unsigned) { return true; });
    throw runner_error(why + "; stopped the pipeline's " + std::to_string(stages) +
                       " worker processes (restarted before the next cell)");
  }

  // The watchdog: requests still out at the cell's deadline will not come back. Their workers are killed (settle()
  // restarts them for the next cell) and the cell fails, naming them.
  [[noreturn]] void stop_hung(const harness::load_driver& load, unsigned lanes, std::uint32_t gen) {
    std::string hung;
    std::uint64_t outstanding = 0;
    const auto is_hung = [&](unsigned w) { return m_pool->slot(w).done_gen.load(std::memory_order_acquire) != gen; };
    for (unsigned w = 0; w < lanes; ++w) {
      if (!is_hung(w)) continue;
      const harness::lane_record& r = m_pool->lane(w).record;
      outstanding += r.tail - r.head;
      hung += (hung.empty() ? "" : ", ") + std::to_string(w);
    }
    stop_workers(lanes, is_hung);
    std::ostringstream what;
    what << "watchdog: " << outstanding << " requests still outstanding "
         << std::chrono::duration<double>(load.watchdog()).count()
         << " s after the window closed (--cell-timeout); killed the hung workers (" << hung << ")";
    throw runner_error(what.str());
  }

  // Kills the workers among 0 .. n-1 that `which` names and waits until the forkserver has reaped them, so nothing
  // touches their slots any more.
  template <class Which>
  void stop_workers(unsigned n, Which which) {
    for (unsigned w = 0; w < n; ++w)
      if (which(w) && !m_pool->death_of(w)) ::kill(m_pool->pid(w), SIGKILL);
    for (unsigned w = 0; w < n; ++w)
      if (which(w)) wait_until([&] { return m_pool->death_of(w).has_value(); }, "die of SIGKILL");
  }

  // Blocks until `done()`, checking the forkserver between bounded waits; throws after k_setup_limit.
  template <class Done>
  void wait_until(Done done, const char* what) {
    const auto deadline = clock::now() + k_setup_limit;
    for (;;) {
      const std::uint32_t seen = m_pool->result_bell().prepare();  // rung by workers and on every death
      if (done()) return;
      check_forkserver();
      if (clock::now() > deadline)
        throw runner_error(std::string("procs: the workers did not ") + what + " within " +
                           std::to_string(k_setup_limit.count()) + " s");
      m_pool->result_bell().wait(seen, k_liveness_interval);
    }
  }

  void check_forkserver() {
    if (auto death = m_pool->forkserver_death()) throw runner_error("procs: " + *death);
  }

  // Replaces the workers that died since the last cell (killed by the watchdog or a failed pipeline, or from
  // outside between cells), so one death costs one cell, not every later one.
  void settle() {
    check_forkserver();
    for (unsigned w = 0; w < m_pool->size(); ++w)
      if (m_pool->death_of(w)) m_pool->restart(w);
  }

  std::unique_ptr<process_pool> m_pool;
};

}  // namespace

std::unique_ptr<runner> make_procs_runner() { return std::make_unique<procs_runner>(); }

}  // namespace conpar::runners
