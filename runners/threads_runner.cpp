// threads: a oneTBB task_arena of W threads; a lane is a task, and a blocking wait pins its thread.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <vector>

#include "harness/core/lane.hpp"
#include "runners/registry.hpp"
#include "runners/threads_pipeline.hpp"
#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

class threads_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "threads"; }
  runner_shape shape() const noexcept override { return runner_shape::worker_pool; }

  cell_outcome run(harness::load_driver& load, unsigned workers) override {
    // TBB caps its threads at the core count unless told otherwise; W may exceed the cores on purpose. It also
    // fixes the most threads it will ever run when the process first uses it: max(4 x cores, 256, the
    // max_allowed_parallelism in force then), which no later global_control raises. Allowing the largest pool
    // on every cell makes the first cell size it so, and a 1,000-worker cell after a 2-worker one runs 1,000
    // threads, not 256. The arena's size is what bounds each cell.
    const auto limit = std::max<std::size_t>(workers, k_worker_pool_cap) + 1;
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism, limit);
    tbb::task_arena arena(static_cast<int>(workers));  // the caller takes one of the W slots
    if (!load.spec().stages.empty()) return run_threads_pipeline(load, arena, workers);
    std::vector<harness::lane_stats> stats(workers);  // one per arena thread: no shared counters

    // One task per lane, min(W, C) of them, each keeping its share of the C requests in flight in its own
    // queue and running them oldest first: past W in flight a request waits for its lane, as in procs'
    // workers, and its latency counts that wait. (One task per request instead let TBB run the newest first,
    // LIFO: at 1,000 in flight on 2 threads the oldest waited out the window unmeasured.)
    const auto lane = [&](unsigned depth) {
      auto& mine = stats[static_cast<std::size_t>(tbb::this_task_arena::current_thread_index())];
      harness::local_lane<harness::lane_stats> l(load.state(), depth, mine);
      harness::run_blocking_lane(l.run, [&](const workloads::request& r) { return workloads::execute_blocking(r, load.deadline()); });
    };

    const unsigned lanes = std::min(workers, load.concurrency());
    load.expect_lanes(lanes);
    arena.execute([&] {
      load.begin();
      // parallel_for splits the lanes in halves, so every thread that steals a half becomes a source of lanes
      // for the others. Spawned one by one from this thread, the lanes all sat in its deque, and 999 workers
      // probing 1,000 slots at random for the one that had them spun for hundreds of milliseconds.
      tbb::parallel_for(
          tbb::blocked_range<unsigned>(0, lanes, 1),
          [&](const tbb::blocked_range<unsigned>& r) {
            for (unsigned i = r.begin(); i != r.end(); ++i)
              lane(load.concurrency() / lanes + (i < load.concurrency() % lanes ? 1 : 0));
          },
          tbb::simple_partitioner{});  // rethrows the first exception a request threw
    });
    cell_outcome out;
    for (const auto& s : stats) out.stats.merge(s);
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_threads_runner() { return std::make_unique<threads_runner>(); }

}  // namespace conpar::runners
