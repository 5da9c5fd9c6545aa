// threads: a oneTBB task_arena of W threads; a request is a task, and a blocking wait pins its thread.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <vector>

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
    // TBB caps its threads at the core count unless told otherwise; W may exceed the cores on purpose.
    const auto limit = std::max<std::size_t>(workers, static_cast<std::size_t>(tbb::info::default_concurrency()));
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism, limit);
    tbb::task_arena arena(static_cast<int>(workers));  // the caller takes one of the W slots
    if (!load.spec().stages.empty()) return run_threads_pipeline(load, arena, workers);
    std::vector<harness::lane_stats> lanes(workers);  // one per arena thread: no shared counters
    tbb::task_group group;

    // Each task runs one request, then issues the next: C tasks outstanding, queued beyond W.
    struct issuer {
      harness::load_driver& load;
      std::vector<harness::lane_stats>& lanes;
      tbb::task_group& group;
      void operator()(harness::clock::time_point now) const {
        const auto r = load.next(now);
        if (!r) return;
        group.run([this, s = *r] {
          // A closed loop's task counts from its issue, queueing included; an open loop's waits for its due time.
          const auto started = harness::start_when_due(s.due, load.open() ? harness::clock::now() : s.due);
          const std::uint64_t checksum = workloads::execute_blocking(s.req, load.deadline());
          const auto done = harness::clock::now();
          lanes[static_cast<std::size_t>(tbb::this_task_arena::current_thread_index())].complete(
              s.due, started, done, checksum, load.window());
          (*this)(done);
        });
      }
    } issue{load, lanes, group};

    arena.execute([&] {
      load.begin();
      for (unsigned i = 0; i < load.concurrency(); ++i) issue(harness::clock::now());
      group.wait();  // rethrows the first exception a request threw
    });
    cell_outcome out;
    for (const auto& lane : lanes) out.stats.merge(lane);
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_threads_runner() { return std::make_unique<threads_runner>(); }

}  // namespace conpar::runners
