// What every runner's pipeline form shares: the item that travels between the stages, and each stage's busy time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/core/load_driver.hpp"
#include "runners/runner.hpp"
#include "workloads/blocking_steps.hpp"
#include "workloads/kernel.hpp"

namespace conpar::runners {

// A request on its way through a pipeline: stage k folds step k into `acc`, so after the last stage `acc` is the
// request's checksum. Latency counts from `started` (produce's start) to the end of the last stage.
struct pipeline_item {
  harness::scheduled_request r;
  harness::clock::time_point started;
  std::uint64_t acc = 0;

  [[nodiscard]] static pipeline_item issued(const harness::scheduled_request& r, harness::clock::time_point started) {
    return {r, started, workloads::fold_start(r.req)};
  }
};
static_assert(std::is_trivially_copyable_v<pipeline_item>, "items cross the procs runner's shared-memory rings");

// The number of stages of `load`'s pipeline (0: its requests are no pipeline). A pipeline has a first and a last
// stage, each running one step of the request; runner_error otherwise.
[[nodiscard]] inline std::size_t pipeline_stages(const harness::load_driver& load) {
  const std::size_t n = load.spec().stages.size();
  if (n == 1 || n > workloads::k_max_steps)
    throw runner_error("pipeline of " + std::to_string(n) + " stages: a pipeline has 2 to " +
                       std::to_string(workloads::k_max_steps) + " stages, one step of the request each");
  return n;
}

// The time one thread or process spent running one stage's step. Each thread or process keeps its own and they
// are summed after the cell; alignas(64): a clock never shares a cache line with another thread's.
struct alignas(64) stage_clock {
  harness::clock::duration busy{0};
};

// Runs stage k of the item (step k of its request) on the calling thread, timed into `clock`.
inline void run_stage_blocking(pipeline_item& item, std::size_t k, stage_clock& clock,
                               harness::clock::time_point limit) {
  const auto t0 = harness::clock::now();
  item.acc = workloads::execute_steps_blocking(item.r.req, item.acc, k, k + 1, limit);
  clock.busy += harness::clock::now() - t0;
}

// Seconds of busy time per stage, for cell_outcome::stage_busy_s.
[[nodiscard]] inline std::vector<double> busy_seconds(const std::vector<stage_clock>& clocks) {
  std::vector<double> out;
  for (const stage_clock& c : clocks) out.push_back(std::chrono::duration<double>(c.busy).count());
  return out;
}

}  // namespace conpar::runners
