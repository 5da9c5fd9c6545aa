// Executes a request as a C++20 coroutine on an Asio event loop: the form used by the coro runner.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "workloads/kernel.hpp"
#include "workloads/request.hpp"

namespace conpar::workloads {

// What one coroutine lane keeps across its requests, so the hot path creates nothing per request: a timer
// for waits and, for tcp steps, its connection to the server (opened by its first tcp request).
struct async_lane {
  explicit async_lane(const boost::asio::any_io_executor& executor) : timer(executor) {}
  async_lane(const async_lane&) = delete;
  async_lane& operator=(const async_lane&) = delete;
  ~async_lane();  // resets the connection: no TIME_WAIT left behind (see tcp_client.cpp)

  boost::asio::steady_timer timer;
  std::optional<boost::asio::ip::tcp::socket> socket;
  std::uint16_t port = 0;
  std::vector<std::uint64_t> response;
};

// Runs steps [first, last) of `r`, folding each into `acc`; returns the new fold (a pipeline's stage runs its one
// step this way). Computes on the loop thread (blocking it, as real code would) and co_awaits waits on the
// lane's timer and tcp steps on its socket. No wait outlasts `limit` (the cell's watchdog deadline): one that
// would is cut off there and throws.
[[nodiscard]] boost::asio::awaitable<std::uint64_t> execute_steps_awaitable(
    const request& r, std::uint64_t acc, std::size_t first, std::size_t last, async_lane& lane,
    std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());

// Runs every step of `r`; its result is the request's checksum. Not a coroutine itself: no second frame.
[[nodiscard]] inline boost::asio::awaitable<std::uint64_t> execute_awaitable(
    const request& r, async_lane& lane, std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max()) {
  return execute_steps_awaitable(r, fold_start(r), 0, k_max_steps, lane, limit);
}

}  // namespace conpar::workloads
