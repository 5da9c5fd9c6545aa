// Worker processes, the forkserver that starts and restarts them, and the shared-memory queues that feed them.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "harness/core/resource_usage.hpp"
#include "runners/doorbell.hpp"
#include "runners/pipeline_stage.hpp"
#include "runners/spsc_ring.hpp"
#include "workloads/request.hpp"

namespace conpar::runners {

// run_stage: a pipeline's item (stage_job) on its way through the stages; it names the results of such items.
enum class job_kind : std::uint16_t { run_request, report_usage, run_stage };

struct job {
  workloads::request req;
  job_kind kind = job_kind::run_request;
  std::uint16_t reset_peak = 0;  // report_usage: start a new peak-RSS interval after reporting
  // Open loop: the request is due this many microseconds after pool_control::epoch_ns, plus one; 0: at once.
  // 32 bits of microseconds cover 71 minutes and keep a job in one cache line.
  std::uint32_t due_us = 0;
};
static_assert(sizeof(job) == 64, "one job per cache line");

// An item of a pipeline cell (workload_spec::stages) on its way through the stages: worker k runs stage k (step k of
// the request), then hands the item on to worker k + 1's stage ring, or answers the parent from the last stage.
// Two cache lines (alignas), so a producer writing one slot never shares a line with the consumer reading the last.
struct alignas(64) stage_job {
  pipeline_item item;        // started: the issue time in a closed loop; the first stage's start in an open one
  std::uint16_t stage = 0;   // the stage to run
  std::uint16_t stages = 0;  // the pipeline's length: the stage that runs stages - 1 answers the parent
  bool open_loop = false;    // the first stage waits until item.r.due and records when it started
};
static_assert(sizeof(stage_job) == 128, "two cache lines per pipeline item");

enum class result_status : std::uint32_t { ok, failed };

struct result {
  std::uint64_t id = 0;
  std::uint64_t checksum = 0;
  std::int64_t started_ns = 0;  // open loop: when the worker started the request (steady clock); else 0
  // When the worker finished it (steady clock): the completion time, not when the dispatcher harvested it. The
  // dispatcher harvests in batches (up to half a worker's queue at 10 ms a request), and harvest times would
  // move whole batches in or out of the measured window.
  std::int64_t done_ns = 0;
  job_kind kind = job_kind::run_request;
  result_status status = result_status::ok;
};

// 256 jobs per worker: deep enough to pipeline empty requests, small enough for 1000 workers (~57 MB of address
// space with the stage rings, of which only the pages in use are resident).
inline constexpr std::size_t k_ring_capacity = 256;

// A worker's life as the forkserver sees it; the parent reads it, the forkserver writes it.
enum class worker_state : std::uint32_t { starting, alive, dead };

// Everything one worker shares with the parent. The parent is the only producer of `jobs` and the only
// consumer of `results`; the worker the reverse, so plain SPSC rings suffice and no lock is ever held.
//
// A pipeline cell of S stages runs on workers 0 .. S-1 and adds one ring per worker, `stage_jobs`: worker 0's is fed
// by the parent, worker k's (k > 0) by worker k - 1 alone, so it too has one producer. The parent pushes no stage job
// to workers 1 .. S-1 and no job at all while the cell runs (usage reports come before and after it), and each worker
// pushes results to its own ring only: every ring keeps one producer and one consumer.
struct worker_slot {
  spsc_ring<job, k_ring_capacity> jobs;
  spsc_ring<result, k_ring_capacity> results;
  spsc_ring<stage_job, k_ring_capacity> stage_jobs;
  doorbell job_bell;                        // rung by whoever pushed a job or a stage job
  std::atomic<std::uint32_t> spins{0};      // busy-wait budget before blocking, set per cell
  // The worker wakes the dispatcher when its queue comes down to this many jobs (half the cell's depth, so the
  // refill has the other half's time to arrive) and when it runs dry: one futex wake-up (~15 us of CPU in a
  // VM) serves many results.
  std::atomic<std::uint32_t> low_water{0};
  harness::resource_usage usage;            // written by the worker before answering report_usage
  std::uint64_t requests_done = 0;          // likewise: the requests it has run (or finished, as a pipeline's last stage)
  std::int64_t stage_busy_ns = 0;           // likewise: the time it spent in pipeline stages' steps
  char error[240] = {};                     // message of the last request that threw
  // Written by the forkserver: the worker's pid, its state, and once dead its waitpid() status (or the
  // fork() errno if it could not be started). `restart` is set by the parent, cleared by the forkserver.
  std::atomic<pid_t> pid{0};
  std::atomic<worker_state> state{worker_state::starting};
  std::atomic<int> wait_status{0};
  std::atomic<int> fork_errno{0};
  std::atomic<std::uint32_t> restart{0};
};

// The segment's header: doorbells and counters shared by the parent, the forkserver and every worker.
struct pool_control {
  doorbell result_bell;  // rung by a worker after pushing results, by the forkserver after a start or a death
  doorbell server_bell;  // rung by the parent (restart, quit) and by the forkserver's own SIGCHLD handler
  std::atomic<std::uint32_t> quit{0};
  // Open loop: the time (steady clock, ns) that jobs' due_us count from; the system-wide monotonic clock
  // means the same instant in every process.
  std::atomic<std::int64_t> epoch_ns{0};
  std::atomic<std::uint32_t> deaths{0};  // workers reaped so far: the dispatcher's cheap "anything died?"
};

// fork() is only safe while the caller is single-threaded, but a dead worker must be restartable after TBB's
// threads exist. So the pool forks one process up front, the forkserver (Python's multiprocessing
// "forkserver", Android's zygote), which stays single-threaded and forks every worker, at start and on
// request. It reaps them too, so a death is seen at once (SIGCHLD) and no zombie outlives it.
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
  [[nodiscard]] doorbell& result_bell() noexcept { return m_control->result_bell; }
  // Bit w of word w / 64 is set by worker w after it pushes results: the dispatcher visits only the
  // workers that have something, instead of scanning all W rings (1000 cache misses) per wake-up.
  [[nodiscard]] std::atomic<std::uint64_t>& ready_word(unsigned i) noexcept { return m_ready[i]; }
  [[nodiscard]] pid_t pid(unsigned i) const noexcept { return m_slots[i].pid.load(std::memory_order_acquire); }
  [[nodiscard]] pid_t forkserver_pid() const noexcept { return m_server; }
  // Open loop: the instant the jobs' due_us count from (the cell's window start).
  void set_epoch(std::chrono::steady_clock::time_point t) noexcept {
    m_control->epoch_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(),
                              std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint32_t deaths() const noexcept { return m_control->deaths.load(std::memory_order_acquire); }

  // How worker i ended ("worker 3 (pid 123) was killed by signal 9 (Killed)"); nullopt while it lives.
  // One atomic load: cheap enough for every liveness check.
  [[nodiscard]] std::optional<std::string> death_of(unsigned i) const;
  // How the forkserver ended, nullopt while it lives; without it no worker can live or restart.
  [[nodiscard]] std::optional<std::string> forkserver_death();
  // Replaces dead worker i with a fresh process on empty rings; waits at most k_restart_limit. Nothing else may
  // push into its rings meanwhile (in a pipeline: the worker before it must be dead or idle).
  void restart(unsigned i);

  static constexpr std::chrono::seconds k_restart_limit{10};

 private:
  void wait_while_starting(unsigned i, std::chrono::steady_clock::time_point deadline);
  void stop_all() noexcept;

  boost::interprocess::mapped_region m_region;
  pool_control* m_control = nullptr;
  std::atomic<std::uint64_t>* m_ready = nullptr;
  worker_slot* m_slots = nullptr;
  unsigned m_size = 0;
  pid_t m_server = -1;
  std::optional<std::string> m_server_death;
};

}  // namespace conpar::runners
