// coro: C coroutines in flight on ONE Asio event loop (the calling thread): concurrency without parallelism.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

#include "harness/core/lane.hpp"
#include "runners/coro_pipeline.hpp"
#include "runners/registry.hpp"
#include "workloads/awaitable_steps.hpp"

namespace conpar::runners {
namespace {

namespace asio = boost::asio;

// One coroutine: the lane every runner runs (harness/core/lane.hpp), its waits co_awaited.
asio::awaitable<void> lane(harness::load_driver& load, harness::lane_stats& stats) {
  workloads::async_lane io(co_await asio::this_coro::executor);  // timer and connection, reused per request
  harness::local_lane<harness::lane_stats> l(load.state(), 1, stats);
  auto now = harness::clock::now();
  bool first = true;
  while (const harness::lane_entry* e = l.run.next(now)) {
    auto started = e->due;
    if (load.open()) {  // wait until due, in slices, so a stopped load is seen even before a distant arrival
      for (now = harness::clock::now(); e->due > now && !load.state().stopping(); now = harness::clock::now()) {
        io.timer.expires_at(std::min(e->due, now + harness::k_stop_poll));
        co_await io.timer.async_wait(asio::use_awaitable);
      }
      started = now;
    }
    const std::uint64_t checksum = co_await workloads::execute_awaitable(l.run.request(*e), io, load.deadline());
    now = harness::clock::now();
    l.run.complete(started, now, checksum);
    // Once, after the first completion: a lane whose requests never suspend (pure compute) would otherwise hold the
    // loop until the window ends, and the window opens only once every lane has completed a request.
    if (first) {
      first = false;
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  }
}

class coro_runner final : public runner {
 public:
  std::string_view name() const noexcept override { return "coro"; }
  runner_shape shape() const noexcept override { return runner_shape::event_loop; }

  cell_outcome run(harness::load_driver& load, unsigned) override {
    if (!load.spec().stages.empty()) return run_coro_pipeline(load);
    cell_outcome out;
    std::exception_ptr failure;
    unsigned running = load.concurrency();
    bool cut_off = false;
    // Declared after what the lanes' handlers touch: a cut-off loop's unfinished lanes die with it.
    asio::io_context io(1);  // concurrency hint 1: single-threaded, so Asio skips its internal locking
    // The watchdog: a wait on something not ours to bound (a socket whose peer never answers) would hold the
    // loop forever; at the cell's deadline the loop stops, its lanes are dropped with it, and the cell fails.
    load.expect_lanes(load.concurrency());  // one lane per coroutine
    load.begin();
    asio::steady_timer watchdog(io, load.deadline());  // begin() opened the window the deadline follows
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;  // cancelled: every lane ended in time
      cut_off = true;
      io.stop();
    });
    auto on_done = [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--running == 0 && !cut_off) watchdog.cancel();
    };
    for (unsigned i = 0; i < load.concurrency(); ++i) asio::co_spawn(io, lane(load, out.stats), on_done);
    io.run();
    if (failure) std::rethrow_exception(failure);
    if (cut_off)
      throw runner_error("watchdog: " + std::to_string(running) + " coroutines still waiting " +
                         std::to_string(std::chrono::duration<double>(load.watchdog()).count()) +
                         " s after the window closed (--cell-timeout); they were dropped");
    return out;
  }
};

}  // namespace

std::unique_ptr<runner> make_coro_runner() { return std::make_unique<coro_runner>(); }

}  // namespace conpar::runners
