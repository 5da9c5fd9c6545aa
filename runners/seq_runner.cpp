// seq: the same work in a plain loop on the calling thread: the checksum and single-core reference.
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
    load.begin();
    auto now = harness::clock::now();
    while (const auto r = load.next(now)) {
      const auto started = harness::start_when_due(r->due, now);
      const std::uint64_t checksum = workloads::execute_blocking(r->req, load.deadline());
      now = harness::clock::now();
      out.stats.complete(r->due, started, now, checksum, load.window());
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_seq_runner() { return std::make_unique<seq_runner>(); }

}  // namespace conpar::runners
