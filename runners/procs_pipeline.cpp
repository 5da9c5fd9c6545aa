// procs' pipeline: worker k runs stage k. The first stage takes items from the load in shared memory itself, each
// stage hands an item on through the next worker's ring, and the last stage completes it itself.
#include <chrono>
#include <cstring>
#include <exception>

#include "runners/process_pool.hpp"

namespace conpar::runners {
namespace {

using harness::clock;
using namespace std::chrono_literals;

// How long a stage blocks before it looks at its parent again; nothing waits without bound.
constexpr auto k_stage_check = 10ms;

struct stage_run {
  const worker_context& w;
  cell_control& cell;
  harness::load_state& load;
  unsigned k;
  harness::clock::time_point limit;
  stage_clock busy;

  [[nodiscard]] worker_slot& self() const noexcept { return w.self(); }
  [[nodiscard]] bool ended(unsigned stage) const noexcept {
    return (cell.stages_done.load(std::memory_order_acquire) >> stage & 1u) != 0;
  }
  template <class Ready>
  void wait_for(Ready ready) const {
    while (!spin_then_wait(self().bell, ready, cell.spins, k_stage_check))
      if (w.orphaned()) _exit(0);
  }
  // A ring wakes a blocked stage (a futex wake and a process switch, ~10 us of CPU here), so a stage rings the next
  // only once a batch is waiting there or when it is about to wait itself (`idle`): one wake-up serves a batch.
  void hand_on(const stage_job& j, bool idle) const {
    worker_slot& next = w.slots[w.index + 1];
    // Never full: at most C <= the ring's capacity items are in the pipeline.
    while (!next.stage_jobs.try_push(j)) {
      cpu_relax();
      if (w.orphaned()) _exit(0);
    }
    if (idle || next.stage_jobs.size_approx() >= cell.batch) next.bell.ring();
  }

  // Stage 0: takes a place (one of the C items in flight), claims the next id, waits until it is due (open loop),
  // runs step 0 and hands the item on. A closed loop's item counts from its issue, when a place freed for it.
  void produce() {
    for (;;) {
      wait_for([&] { return cell.in_pipeline.load(std::memory_order_acquire) < load.concurrency || load.stopping(); });
      const auto now = clock::now();
      const auto ids = load.claim(now, 1);
      if (!ids) return;
      const auto due = load.due_time(ids->first, now);
      const auto started = load.open ? harness::start_when_due(load, due, clock::now()) : due;
      const std::uint32_t in = cell.in_pipeline.fetch_add(1, std::memory_order_relaxed) + 1;
      stage_job j{pipeline_item::issued({load.make(ids->first), due}, started)};
      run_stage_blocking(j.item, 0, busy, limit);
      hand_on(j, in >= load.concurrency);  // no place left: this stage waits next
    }
  }

  // Stages 1 .. S-1: until the stage before has ended and left nothing in this stage's ring.
  void pass_on() {
    const bool last = k + 1 == cell.stages;
    stage_job j;
    for (;;) {
      if (!self().stage_jobs.try_pop(j)) {
        if (ended(k - 1) && self().stage_jobs.empty_approx()) return;
        wait_for([&] { return !self().stage_jobs.empty_approx() || ended(k - 1); });
        continue;
      }
      run_stage_blocking(j.item, k, busy, limit);
      const bool idle = self().stage_jobs.empty_approx();
      if (!last) {
        hand_on(j, idle);
        continue;
      }
      w.lane.stats.complete(j.item.r.due, j.item.started, clock::now(), j.item.acc, load.window());
      // release: a place for the first stage, which is woken once a batch of places is free (or this stage idles)
      const std::uint32_t in = cell.in_pipeline.fetch_sub(1, std::memory_order_release) - 1;
      if (idle || in + cell.batch <= load.concurrency) w.slots[0].bell.ring();
    }
  }
};

}  // namespace

void run_pipeline_stage(const worker_context& w, unsigned stage) {
  cell_control& cell = w.control.cell;
  stage_run run{w, cell, cell.load, stage, cell.load.deadline, {}};
  try {
    if (stage == 0)
      run.produce();
    else
      run.pass_on();
  } catch (const std::exception& e) {
    std::strncpy(w.self().error, e.what(), sizeof w.self().error - 1);
  }
  w.self().stage_busy_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(run.busy.busy).count();
  // release: everything this stage handed on is in the next ring before the next stage reads "ended".
  cell.stages_done.fetch_or(1u << stage, std::memory_order_release);
  if (stage + 1 < cell.stages) w.slots[w.index + 1].bell.ring();
}

}  // namespace conpar::runners
