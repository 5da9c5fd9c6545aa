// The coro runner's form of a pipeline workload: one coroutine per stage on the event loop, channels between them.
#pragma once

#include "harness/core/load_driver.hpp"
#include "runners/runner.hpp"

namespace conpar::runners {

// Runs `load` (a pipeline: workload_spec::stages) to the end of its window on one Asio event loop, the calling
// thread, and drains it. Throws what a stage threw.
[[nodiscard]] cell_outcome run_coro_pipeline(harness::load_driver& load);

}  // namespace conpar::runners
