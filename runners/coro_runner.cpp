// coro: C coroutines in flight on ONE Asio event loop (the calling thread): concurrency without parallelism.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "runners/coro_pipeline.hpp"
#include "runners/registry.hpp"
#include "workloads/awaitable_steps.hpp"

namespace conpar::runners {
namespace {

namespace asio = boost::asio;

// One coroutine of the closed loop: issues its next request as soon as its last one completes.
asio::awaitable<void> lane(harness::load_driver& load, harness::lane_stats& stats) {
  asio::steady_timer timer(co_await asio::this_coro::executor);  // reused: no timer set-up per request
  auto now = harness::clock::now();
  while (const auto r = load.next(now)) {
    auto started = now;
    if (r->due > now) {  // open loop: the request is not due yet
      timer.expires_at(r->due);
      co_await timer.async_wait(asio::use_awaitable);
      started = harness::clock::now();
    }
    const std::uint64_t checksum = co_await workloads::execute_awaitable(r->req, timer, load.deadline());
    now = harness::clock::now();
    stats.complete(r->due, started, now, checksum, load.window());
  }
}

class coro_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "coro"; }
  runner_shape shape() const noexcept override { return runner_shape::event_loop; }

  cell_outcome run(harness::load_driver& load, unsigned) override {
    if (!load.spec().stages.empty()) return run_coro_pipeline(load);
    cell_outcome out;
    asio::io_context io(1);  // concurrency hint 1: single-threaded, so Asio skips its internal locking
    std::exception_ptr failure;
    auto on_done = [&failure](std::exception_ptr e) {
      if (e && !failure) failure = e;
    };
    load.begin();
    for (unsigned i = 0; i < load.concurrency(); ++i) asio::co_spawn(io, lane(load, out.stats), on_done);
    io.run();
    if (failure) std::rethrow_exception(failure);
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_coro_runner() { return std::make_unique<coro_runner>(); }

}  // namespace conpar::runners
