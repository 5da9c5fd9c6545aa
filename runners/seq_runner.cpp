// seq: the same work in a plain loop on the calling thread: the checksum and single-core reference.
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
    load.begin();
    auto now = harness::clock::now();
    while (const auto r = load.next(now)) {
      const auto started = harness::start_when_due(r->due, now);
      std::uint64_t checksum = 0;
      if (stages.empty()) {
        checksum = workloads::execute_blocking(r->req, load.deadline());
      } else {
        auto item = pipeline_item::issued(*r, started);
        for (std::size_t k = 0; k < stages.size(); ++k) run_stage_blocking(item, k, stages[k], load.deadline());
        checksum = item.acc;
      }
      now = harness::clock::now();
      out.stats.complete(r->due, started, now, checksum, load.window());
    }
    out.stage_busy_s = busy_seconds(stages);
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_seq_runner() { return std::make_unique<seq_runner>(); }

}  // namespace conpar::runners
