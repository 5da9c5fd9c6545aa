// Worker processes that run a cell's lanes from a load in shared memory, and the forkserver that starts and
// restarts them.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "harness/core/lane.hpp"
#include "harness/core/load_driver.hpp"
#include "harness/core/resource_usage.hpp"
#include "runners/doorbell.hpp"
#include "runners/pipeline_stage.hpp"
#include "runners/spsc_ring.hpp"

namespace conpar::runners {

// A pipeline's item on its way from worker k (stage k) to worker k + 1. Two cache lines (alignas), so a producer
// writing one slot never shares a line with the consumer reading the last.
struct alignas(64) stage_job {
  pipeline_item item;  // started: the issue time in a closed loop; the first stage's start in an open one
};
static_assert(sizeof(stage_job) == 128, "two cache lines per pipeline item");

// Most requests one worker keeps in flight (C / W); a cell that needs more is refused with a message.
inline constexpr unsigned k_max_depth_per_worker = 4096;
// Items in flight in a pipeline: each may wait in one stage's ring.
inline constexpr std::size_t k_stage_ring_capacity = 256;
// Longest open-loop schedule a cell may have (8 bytes each, in shared memory; only the pages used are resident).
inline constexpr std::size_t k_max_schedule = std::size_t{1} << 22;

// A worker's life as the forkserver sees it; the parent reads it, the forkserver writes it.
enum class worker_state : std::uint32_t { starting, alive, dead };

// The cell the workers run: written by the parent while they wait, read by them once `gen` moves. A worker acks the
// new generation when it has reset its slot, runs once `go` equals it, and reports done.
struct cell_control {
  harness::load_state load;            // the load itself: ids, window, schedule, stop flag
  alignas(64) std::atomic<std::uint32_t> gen{0};
  std::atomic<std::uint32_t> go{0};
  std::uint32_t workers = 0;           // workers 0 .. workers-1 take part
  std::uint32_t depth = 0;             // requests in flight per worker: worker w runs depth + (w < extra)
  std::uint32_t extra = 0;
  std::uint32_t stages = 0;            // a pipeline of this many stages (worker k runs stage k), or 0
  std::int32_t spins = 0;              // a pipeline stage's busy-wait budget before it blocks
  std::uint32_t batch = 1;             // a pipeline stage wakes the next once this many items wait for it
  // Pipeline: items between the first stage's start and the last stage's end, and which stages have ended.
  alignas(64) std::atomic<std::uint32_t> in_pipeline{0};
  alignas(64) std::atomic<std::uint32_t> stages_done{0};
};

// A worker's lane in shared memory: only the worker writes it; the parent reads it once the worker is done or dead.
// Page-aligned and never constructed by the parent: the zero-filled mapping is an empty lane, and the parent touches
// it only to merge it (then releases its mapping of those pages, see release_lane), so a thousand workers' lanes do
// not sit in the parent's RSS and inflate every later cell's figure.
struct alignas(4096) worker_lane {
  harness::lane_record record;
  harness::shared_lane_stats stats;
  // The lane's requests in flight; raw bytes, so nothing writes the 64 KB but the lane itself.
  alignas(harness::lane_entry) std::byte ring_bytes[sizeof(harness::lane_entry) * k_max_depth_per_worker];

  [[nodiscard]] std::span<harness::lane_entry> ring_for(unsigned depth) noexcept {
    return {reinterpret_cast<harness::lane_entry*>(ring_bytes), harness::lane_ring_size(depth)};
  }
};
static_assert(std::is_trivially_copyable_v<harness::lane_entry> && std::is_trivially_destructible_v<harness::lane_entry>);

// Everything else one worker shares with the parent: its doorbell and cell marks, its usage over the cell, a
// pipeline's stage ring, and the forkserver's view of it.
struct worker_slot {
  doorbell bell;  // rung by the parent (a new cell, go, stop) and in a pipeline by the stages beside it
  std::atomic<std::uint32_t> ready_gen{0};  // the last cell this worker has set up for
  std::atomic<std::uint32_t> done_gen{0};   // the last cell it has finished
  harness::resource_usage usage;            // the worker's own over its part of the cell (peak: the cell's)
  std::int64_t stage_busy_ns = 0;           // time in its pipeline stage's step
  char error[240] = {};                     // message of a request that threw; empty when none did
  spsc_ring<stage_job, k_stage_ring_capacity> stage_jobs;  // fed by the worker before it in a pipeline
  // Written by the forkserver: the worker's pid, its state, and once dead its waitpid() status (or the
  // fork() errno if it could not be started). `restart` is set by the parent, cleared by the forkserver.
  std::atomic<pid_t> pid{0};
  std::atomic<worker_state> state{worker_state::starting};
  std::atomic<int> wait_status{0};
  std::atomic<int> fork_errno{0};
  std::atomic<std::uint32_t> restart{0};
};

// The segment's header: the cell, doorbells and counters shared by the parent, the forkserver and every worker.
struct pool_control {
  doorbell result_bell;   // rung by a worker when it is set up or done, by the forkserver after a start or a death
  doorbell server_bell;   // rung by the parent (restart, quit) and by the forkserver's own SIGCHLD handler
  doorbell standby_bell;  // rung by the parent: a standby forkserver takes over, or all quit
  std::atomic<std::uint32_t> quit{0};
  std::atomic<std::uint32_t> takeover{0};  // k + 1: standby k is the forkserver now
  std::atomic<std::uint32_t> deaths{0};  // workers reaped so far: the parent's cheap "anything died?"
  cell_control cell;
};

// fork() is only safe while the caller is single-threaded, but a dead worker must be restartable after TBB's
// threads exist. So the pool forks one process up front, the forkserver (Python's multiprocessing
// "forkserver", Android's zygote), which stays single-threaded and forks every worker, at start and on
// request. It reaps them too, so a death is seen at once (SIGCHLD) and no zombie outlives it. A forkserver can
// die too (its workers die with it): k_standby_forkservers more are forked up front, asleep, and the next takes
// over and starts the workers afresh, so a dead forkserver costs the cell it happened in, not every later one.
inline constexpr unsigned k_standby_forkservers = 2;

class process_pool {
 public:
  // Starts the forkserver and `workers` processes. Refuses (std::logic_error) when this process already has
  // other threads: fork() copies only the calling thread, and oneTBB does not survive it.
  explicit process_pool(unsigned workers);
  ~process_pool();
  process_pool(const process_pool&) = delete;
  process_pool& operator=(const process_pool&) = delete;

  [[nodiscard]] unsigned size() const noexcept { return m_size; }
  [[nodiscard]] worker_slot& slot(unsigned i) noexcept { return m_slots[i]; }
  [[nodiscard]] worker_lane& lane(unsigned i) noexcept { return m_lanes[i]; }
  // Drops this process's mapping of lane i's pages (their contents stay in the segment): see worker_lane.
  void release_lane(unsigned i) noexcept;
  [[nodiscard]] cell_control& cell() noexcept { return m_control->cell; }
  [[nodiscard]] std::span<harness::clock::duration> schedule() noexcept { return {m_schedule, k_max_schedule}; }
  [[nodiscard]] doorbell& result_bell() noexcept { return m_control->result_bell; }
  [[nodiscard]] pid_t pid(unsigned i) const noexcept { return m_slots[i].pid.load(std::memory_order_acquire); }
  [[nodiscard]] pid_t forkserver_pid() const noexcept { return m_server; }
  [[nodiscard]] std::uint32_t deaths() const noexcept { return m_control->deaths.load(std::memory_order_acquire); }

  // How worker i ended ("worker 3 (pid 123) was killed by signal 9 (Killed)"); nullopt while it lives.
  // One atomic load: cheap enough for every liveness check.
  [[nodiscard]] std::optional<std::string> death_of(unsigned i) const;
  // How the forkserver ended, once, nullopt while it lives. A standby takes its place and starts every worker
  // afresh before this returns; when none is left, every later call says so (no worker can live or restart).
  [[nodiscard]] std::optional<std::string> forkserver_death();
  // Replaces dead worker i with a fresh process on an empty slot; waits at most k_restart_limit. With
  // `join_cell`, the new worker takes the dead one's lane in the cell running now; else it waits for the next.
  // Nothing else may push into its stage ring meanwhile (in a pipeline: the worker before it must be dead or idle).
  void restart(unsigned i, bool join_cell = false);

  static constexpr std::chrono::seconds k_restart_limit{10};

 private:
  void wait_while_starting(unsigned i, std::chrono::steady_clock::time_point deadline);
  void wait_for_workers();
  void take_over();  // the next standby becomes the forkserver
  void stop_all() noexcept;

  boost::interprocess::mapped_region m_region;
  pool_control* m_control = nullptr;
  harness::clock::duration* m_schedule = nullptr;
  worker_slot* m_slots = nullptr;
  worker_lane* m_lanes = nullptr;
  unsigned m_size = 0;
  pid_t m_server = -1;
  std::vector<pid_t> m_standbys;  // asleep, in takeover order; the front one is next
  std::optional<std::string> m_server_death;  // set once no standby is left
};

// Worker side (process_worker.cpp): the loop a forked worker runs until the parent quits or dies.
struct worker_context {
  pool_control& control;
  worker_slot* slots;  // every worker's: a pipeline stage hands its items on to the next worker's stage ring
  worker_lane& lane;
  unsigned index;
  pid_t parent;  // the forkserver

  [[nodiscard]] worker_slot& self() const noexcept { return slots[index]; }
  [[nodiscard]] bool orphaned() const noexcept;
};
[[noreturn]] void worker_main(const worker_context& w);
// A pipeline stage's part of a cell (procs_pipeline.cpp).
void run_pipeline_stage(const worker_context& w, unsigned stage);

}  // namespace conpar::runners
