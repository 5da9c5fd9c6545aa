// coro's pipeline: a generator yields the requests, a coroutine per stage runs on ONE event loop, and bounded
// channels join them: Python's async generators and asyncio.Queue, in C++20 on Boost.Asio.
#include "runners/coro_pipeline.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <deque>
#include <exception>
#include <vector>

#include "runners/channel.hpp"
#include "runners/generator.hpp"
#include "runners/pipeline_stage.hpp"
#include "workloads/awaitable_steps.hpp"

namespace conpar::runners {
namespace {

namespace asio = boost::asio;
using harness::clock;

using link = channel<pipeline_item>;
// One of the C places in the pipeline (TBB's max_tokens): the producer takes one before it issues an item and the
// last stage gives it back, so at most C items are between produce's start and the last stage's end.
struct token {};

// The request stream, pulled one request at a time (Python: `while r := load.next(): yield r`). A closed loop's
// request is issued, and its clock starts, when the producer pulls it: once the pipeline has room for it.
generator<harness::scheduled_request> requests(harness::load_driver& load) {
  while (const auto r = load.next(clock::now())) co_yield *r;
}

// Stage k of the item (step k of its request) on the loop, timed. A stage computes on the loop thread and blocks it,
// as every coroutine's compute does; a wait in it would be co_awaited, and counted as busy.
asio::awaitable<void> run_stage(pipeline_item& item, std::size_t k, workloads::async_lane& lane, stage_clock& busy,
                                clock::time_point limit) {
  const auto t0 = clock::now();
  item.acc = co_await workloads::execute_steps_awaitable(item.r.req, item.acc, k, k + 1, lane, limit);
  busy.busy += clock::now() - t0;
}

asio::awaitable<void> produce(harness::load_driver& load, channel<token>& places, link& out, stage_clock& busy) {
  workloads::async_lane lane(co_await asio::this_coro::executor);  // reused: no timer set-up per item
  if (co_await places.receive()) {
    for (const harness::scheduled_request& r : requests(load)) {
      auto started = r.due;  // a closed loop's item starts when it is issued
      if (load.open()) {      // an open loop's is due at its scheduled time; waited for in slices (SIGINT)
        for (auto now = clock::now(); r.due > now && !load.state().stopping(); now = clock::now()) {
          lane.timer.expires_at(std::min(r.due, now + harness::k_stop_poll));
          co_await lane.timer.async_wait(asio::use_awaitable);
        }
        started = clock::now();
      }
      auto item = pipeline_item::issued(r, started);
      co_await run_stage(item, 0, lane, busy, load.deadline());
      // Either fails only when a later stage failed and closed the channels: the pipeline is being torn down.
      if (!co_await out.send(item)) break;
      if (!co_await places.receive()) break;
    }
  }
  out.close();  // the stream ends: the next stage drains what is in the channel, then ends too
}

asio::awaitable<void> transform(link& in, link& out, std::size_t k, stage_clock& busy, clock::time_point limit) {
  workloads::async_lane lane(co_await asio::this_coro::executor);
  while (auto item = co_await in.receive()) {
    co_await run_stage(*item, k, lane, busy, limit);
    if (!co_await out.send(*item)) break;
  }
  out.close();
}

asio::awaitable<void> consume(harness::load_driver& load, link& in, channel<token>& places, std::size_t k,
                              stage_clock& busy, harness::lane_stats& stats) {
  workloads::async_lane lane(co_await asio::this_coro::executor);
  while (auto item = co_await in.receive()) {
    co_await run_stage(*item, k, lane, busy, load.deadline());
    stats.complete(item->r.due, item->started, clock::now(), item->acc, load.window());
    token place;
    (void)places.try_send(place);  // never full: C places, C tokens
  }
}

}  // namespace

cell_outcome run_coro_pipeline(harness::load_driver& load) {
  const std::size_t stages = pipeline_stages(load);
  asio::io_context io(1);  // concurrency hint 1: single-threaded, so Asio skips its internal locking
  const unsigned c = load.concurrency();
  channel<token> places(io.get_executor(), c);
  for (unsigned i = 0; i < c; ++i) {
    token place;
    (void)places.try_send(place);
  }
  // The channels are bounded at C, as asyncio.Queue(maxsize=C) would be; the tokens bound the pipeline as a whole,
  // which bounds per channel cannot do exactly (each stage also holds an item), so no channel ever fills.
  std::deque<link> links;  // a deque: channels do not move
  for (std::size_t k = 0; k + 1 < stages; ++k) links.emplace_back(io.get_executor(), c);
  std::vector<stage_clock> busy(stages);
  cell_outcome out;

  std::exception_ptr failure;
  // A stage that throws ends its coroutine: closing every channel wakes the others, and they end too.
  auto on_done = [&](std::exception_ptr e) {
    if (!e || failure) return;
    failure = e;
    places.close();
    for (link& l : links) l.close();
  };
  load.begin();
  asio::co_spawn(io, produce(load, places, links.front(), busy.front()), on_done);
  for (std::size_t k = 1; k + 1 < stages; ++k)
    asio::co_spawn(io, transform(links[k - 1], links[k], k, busy[k], load.deadline()), on_done);
  asio::co_spawn(io, consume(load, links.back(), places, stages - 1, busy.back(), out.stats), on_done);
  io.run();
  if (failure) std::rethrow_exception(failure);
  out.stage_busy_s = busy_seconds(busy);
  return out;
}

}  // namespace conpar::runners
