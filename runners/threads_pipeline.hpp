// The threads runner's form of a pipeline workload: oneTBB's parallel_pipeline in the runner's task arena.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include "harness/core/load_driver.hpp"
#include "runners/runner.hpp"

namespace conpar::runners {

// Runs `load` (a pipeline: workload_spec::stages) to the end of its window in `arena` (`workers` threads) and
// drains it. Throws what a stage threw.
[[nodiscard]] cell_outcome run_threads_pipeline(harness::load_driver& load, tbb::task_arena& arena, unsigned workers);

}  // namespace conpar::runners
