// The one interface every execution model implements; runners execute requests and nothing else.
#pragma once

#include <memory>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/load_driver.hpp"
#include "harness/core/resource_usage.hpp"

namespace conpar::runners {

// How a runner maps a sweep's (workers, concurrency) onto itself; the harness applies it.
enum class runner_shape {
  sequential,   // one request at a time on the caller: workers 1, concurrency 1
  event_loop,   // one loop thread: workers 1, any concurrency
  worker_pool,  // W threads or processes; a blocking request holds a worker, so concurrency is capped
};

struct cell_outcome {
  harness::lane_stats stats;                // merged over lanes
  harness::resource_usage other_processes;  // usage of processes other than this one (worker processes)
  // A runner that survives a fault inside the cell (a worker process died and was restarted) goes on, and
  // says what happened and which requests were lost with it: issued = completed + lost, every id once.
  std::vector<std::string> faults;
  std::vector<std::uint64_t> lost;
  // A pipeline (workload_spec::stages): the seconds each stage spent running its step, summed over the threads or
  // processes that ran it, waits in the queues between the stages excluded. Empty for plain requests.
  std::vector<double> stage_busy_s;
};

// A failure of the execution machinery itself (a dead worker, a cell that never finishes).
struct runner_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class runner {
 public:
  virtual ~runner() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] virtual runner_shape shape() const noexcept = 0;
  // Called once, while the process is still single-threaded, with the most workers any cell will ask for.
  virtual void prepare(unsigned /*max_workers*/) {}
  // Runs `load` to the end of its window and drains it. Throws on failure.
  [[nodiscard]] virtual cell_outcome run(harness::load_driver& load, unsigned workers) = 0;
};

// Every runner, in report order; adding a runner adds one line in registry.cpp.
[[nodiscard]] std::vector<std::unique_ptr<runner>> make_runners();

// Most workers a worker_pool runner is offered: past ~1000 threads or processes a 2-core machine measures its
// scheduler, not the runner. Requests in flight beyond the workers wait in the runner's queues.
inline constexpr unsigned k_worker_pool_cap = 1000;

}  // namespace conpar::runners
