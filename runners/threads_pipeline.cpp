// threads' pipeline: tbb::parallel_pipeline with C tokens: the first and last stages serial and in order, the
// stages between them parallel over the arena's W threads.
#include "runners/threads_pipeline.hpp"

#include <oneapi/tbb/parallel_pipeline.h>

#include <vector>

#include "runners/pipeline_stage.hpp"

namespace conpar::runners {

cell_outcome run_threads_pipeline(harness::load_driver& load, tbb::task_arena& arena, unsigned workers) {
  using harness::clock;
  const std::size_t stages = pipeline_stages(load);
  // A clock per stage and arena thread: any thread may run any stage (a serial stage one item at a time), and a
  // thread only ever touches its own.
  std::vector<std::vector<stage_clock>> busy(stages, std::vector<stage_clock>(workers));
  const auto mine = [&](std::size_t k) -> stage_clock& {
    return busy[k][static_cast<std::size_t>(tbb::this_task_arena::current_thread_index())];
  };
  const auto limit = load.deadline();
  cell_outcome out;  // its lane: only the serial last stage completes items

  // The source: the producer runs when a token is free, so a closed loop issues an item (and starts its clock)
  // once the pipeline has room for it; an open loop's producer waits for the item's due time.
  auto chain = tbb::make_filter<void, pipeline_item>(tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) {
    const auto now = clock::now();
    const auto r = load.next(now);
    if (!r) {
      fc.stop();
      return pipeline_item{};
    }
    auto item = pipeline_item::issued(*r, harness::start_when_due(load.state(), r->due, now));
    run_stage_blocking(item, 0, mine(0), limit);
    return item;
  });
  for (std::size_t k = 1; k + 1 < stages; ++k)
    chain = chain & tbb::make_filter<pipeline_item, pipeline_item>(tbb::filter_mode::parallel, [&, k](pipeline_item item) {
              run_stage_blocking(item, k, mine(k), limit);
              return item;
            });
  const auto sink = tbb::make_filter<pipeline_item, void>(tbb::filter_mode::serial_in_order, [&](pipeline_item item) {
    run_stage_blocking(item, stages - 1, mine(stages - 1), limit);
    out.stats.complete(item.r.due, item.started, clock::now(), item.acc, load.window());
  });

  arena.execute([&] {
    load.begin();
    tbb::parallel_pipeline(load.concurrency(), chain & sink);  // rethrows the first exception a stage threw
  });
  for (const auto& per_thread : busy) {
    double seconds = 0;
    for (const double s : busy_seconds(per_thread)) seconds += s;
    out.stage_busy_s.push_back(seconds);
  }
  return out;
}

}  // namespace conpar::runners
