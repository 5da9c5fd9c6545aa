// seq: the same work in a plain loop on the calling thread: the checksum and single-core reference.
#include "harness/core/lane.hpp"
#include "runners/pipeline_stage.hpp"
#include "runners/registry.hpp"
#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

class seq_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "seq"; }
  runner_shape shape() const noexcept override { return runner_shape::sequential; }

  cell_outcome run(harness::load_driver& load, unsigned) override {
    cell_outcome out;
    // A pipeline's item runs its stages one after the other, each timed: the single-core split of the work.
    std::vector<stage_clock> stages(pipeline_stages(load));
    harness::local_lane<harness::lane_stats> lane(load.state(), 1, out.stats);
    load.expect_lanes(1);
    load.begin();
    harness::run_blocking_lane(lane.run, [&](const workloads::request& r) {
      if (stages.empty()) return workloads::execute_blocking(r, load.deadline());
      auto item = pipeline_item::issued({r, harness::clock::now()}, harness::clock::now());
      for (std::size_t k = 0; k < stages.size(); ++k) run_stage_blocking(item, k, stages[k], load.deadline());
      return item.acc;
    });
    out.stage_busy_s = busy_seconds(stages);
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_seq_runner() { return std::make_unique<seq_runner>(); }

}  // namespace conpar::runners
