// seq: the same work in a plain loop on the calling thread: the checksum and single-core reference.
#include "runners/registry.hpp"
#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

class seq_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "seq"; }
  runner_shape shape() const noexcept override { return runner_shape::sequential; }

  cell_outcome run(harness::closed_loop& load, unsigned) override {
    cell_outcome out;
    load.begin();
    auto issued = harness::clock::now();
    while (const auto r = load.next(issued)) {
      const std::uint64_t checksum = workloads::execute_blocking(*r, load.deadline());
      const auto done = harness::clock::now();
      out.stats.complete(issued, done, checksum, load.window());
      issued = done;
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_seq_runner() { return std::make_unique<seq_runner>(); }

}  // namespace conpar::runners
