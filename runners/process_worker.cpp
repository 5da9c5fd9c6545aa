// A procs worker process: waits for a cell, runs its lane of it from the load in shared memory, reports done.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <exception>

#include "harness/core/lane.hpp"
#include "runners/process_pool.hpp"
#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

using namespace std::chrono_literals;

// An idle worker wakes this often only to notice a vanished parent, which PR_SET_PDEATHSIG already covers:
// rarely, since 1,000 idle workers waking every second cost ~8% of a core and would disturb the cells that
// do not use them.
constexpr auto k_idle_check = 30s;
// How long a worker that has set up for a cell waits for its start before it checks on its parent again.
constexpr auto k_go_check = 100ms;

// Runs `body`; a throw ends the worker's part of the cell, with its message in the slot for the parent.
template <class Body>
void run_guarded(worker_slot& s, Body body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    std::strncpy(s.error, e.what(), sizeof s.error - 1);
  } catch (...) {
    std::strncpy(s.error, "unknown exception", sizeof s.error - 1);
  }
}

// Waits until `ready()` or the parent is gone (then exits); the bell is this worker's own.
template <class Ready>
void wait_for(const worker_context& w, Ready ready, std::chrono::nanoseconds check) {
  while (!spin_then_wait(w.self().bell, ready, 0, check))
    if (w.orphaned()) _exit(0);
}

// The worker's part of cell `gen`: set up (a fresh slot, the cell's own peak RSS), ack, wait for the start, run.
void run_cell(const worker_context& w, std::uint32_t gen) {
  cell_control& cell = w.control.cell;
  worker_slot& s = w.self();
  harness::reset_peak_rss();  // first: its page-table walk is not the cell's cost
  w.lane.record = {};
  w.lane.stats = {};
  s.stage_busy_ns = 0;
  s.error[0] = '\0';
  const harness::resource_usage before = harness::resource_usage::of_this_process();
  // release: the reset slot is visible to the parent before it reads this ack.
  s.ready_gen.store(gen, std::memory_order_release);
  w.control.result_bell.ring();
  wait_for(w, [&] { return cell.go.load(std::memory_order_acquire) == gen; }, k_go_check);

  if (cell.stages > 0) {
    run_pipeline_stage(w, w.index);
  } else {
    const unsigned depth = cell.depth + (w.index < cell.extra ? 1 : 0);
    harness::lane<harness::shared_lane_stats> lane(cell.load, depth, w.lane.record, w.lane.ring_for(depth), w.lane.stats);
    const auto limit = cell.load.deadline;
    run_guarded(s, [&] {
      harness::run_blocking_lane(lane, [&](const workloads::request& r) { return workloads::execute_blocking(r, limit); });
    });
  }
  s.usage = harness::resource_usage::of_this_process() - before;
  s.done_gen.store(gen, std::memory_order_release);  // release: the lane's record and stats before the done mark
  w.control.result_bell.ring();
}

}  // namespace

bool worker_context::orphaned() const noexcept { return getppid() != parent; }

[[noreturn]] void worker_main(const worker_context& w) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Ctrl-C reaches the whole foreground process group: the parent decides how the run ends, and its
  // pool stops the workers. SIGTERM sent to a worker itself still ends it (the parent's handler is reset).
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);  // a hang-up reaches the whole process group too: the parent ends the run
  signal(SIGTERM, SIG_DFL);
  if (w.orphaned()) _exit(0);  // the forkserver died before the line above took effect
  cell_control& cell = w.control.cell;
  // The last cell this slot took part in: a replacement started during a cell sits it out (restart() marked the
  // slot set up and done for it). Read from the slot, not from `gen`: the next cell may have begun already.
  std::uint32_t seen = w.self().ready_gen.load(std::memory_order_acquire);
  for (;;) {
    wait_for(w, [&] { return cell.gen.load(std::memory_order_acquire) != seen; }, k_idle_check);
    seen = cell.gen.load(std::memory_order_acquire);
    if (w.index < cell.workers) run_cell(w, seen);
  }
}

}  // namespace conpar::runners
