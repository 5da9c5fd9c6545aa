// Worker processes forked once, up front, and the shared-memory queues that feed them.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/resource_usage.hpp"
#include "runners/doorbell.hpp"
#include "runners/spsc_ring.hpp"
#include "workloads/request.hpp"

namespace conpar::runners {

enum class job_kind : std::uint32_t { run_request, report_usage };

struct job {
  workloads::request req;
  job_kind kind = job_kind::run_request;
  std::uint32_t reset_peak = 0;  // report_usage: start a new peak-RSS interval after reporting
};
static_assert(sizeof(job) == 64, "one job per cache line");

enum class result_status : std::uint32_t { ok, failed };

struct result {
  std::uint64_t id = 0;
  std::uint64_t checksum = 0;
  job_kind kind = job_kind::run_request;
  result_status status = result_status::ok;
};

// 256 jobs per worker: deep enough to pipeline empty requests, small enough for 1000 workers (~21 MB).
inline constexpr std::size_t k_ring_capacity = 256;

// Everything one worker shares with the parent. The parent is the only producer of `jobs` and the only
// consumer of `results`; the worker the reverse, so plain SPSC rings suffice and no lock is ever held.
struct worker_slot {
  spsc_ring<job, k_ring_capacity> jobs;
  spsc_ring<result, k_ring_capacity> results;
  doorbell job_bell;                        // rung by the parent after pushing a job
  std::atomic<std::uint32_t> spins{0};      // busy-wait budget before blocking, set per cell
  // The worker wakes the dispatcher only once its queue is down to this many jobs: with several requests
  // queued per worker, one futex wake-up (~15 us of CPU in a VM) serves several results.
  std::atomic<std::uint32_t> low_water{0};
  harness::resource_usage usage;            // written by the worker before answering report_usage
  char error[240] = {};                     // message of the last request that threw
};

class process_pool {
 public:
  // Forks `workers` processes. Refuses (std::logic_error) when this process already has other threads:
  // fork() copies only the calling thread, and oneTBB does not survive it.
  explicit process_pool(unsigned workers);
  ~process_pool();
  process_pool(const process_pool&) = delete;
  process_pool& operator=(const process_pool&) = delete;

  [[nodiscard]] unsigned size() const noexcept { return static_cast<unsigned>(m_pids.size()); }
  [[nodiscard]] worker_slot& slot(unsigned i) noexcept { return m_slots[i]; }
  [[nodiscard]] doorbell& result_bell() noexcept { return *m_result_bell; }
  // Bit w of word w / 64 is set by worker w after it pushes results: the dispatcher visits only the
  // workers that have something, instead of scanning all W rings (1000 cache misses) per wake-up.
  [[nodiscard]] std::atomic<std::uint64_t>& ready_word(unsigned i) noexcept { return m_ready[i]; }
  [[nodiscard]] pid_t pid(unsigned i) const noexcept { return m_pids[i]; }

  // Reaps worker i if it has exited and returns how it ended ("worker 3 (pid 123) was killed by signal 9
  // (Killed)"); nullopt while it lives. A dead worker stays dead and keeps reporting its end.
  [[nodiscard]] std::optional<std::string> death_of(unsigned i);

 private:
  void stop_all() noexcept;

  boost::interprocess::mapped_region m_region;
  doorbell* m_result_bell = nullptr;  // rung by any worker after pushing a result
  std::atomic<std::uint64_t>* m_ready = nullptr;
  worker_slot* m_slots = nullptr;
  std::vector<pid_t> m_pids;
  std::vector<std::string> m_deaths;
};

}  // namespace conpar::runners
