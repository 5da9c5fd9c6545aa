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

// Computes on the loop thread (blocking it, as real code would) and co_awaits waits on the lane's timer and
// tcp steps on its socket. No wait outlasts `limit` (the cell's watchdog deadline): one that would is cut off
// there and throws.
[[nodiscard]] boost::asio::awaitable<std::uint64_t> execute_awaitable(const request& r, async_lane& lane,
                                                                      std::chrono::steady_clock::time_point limit =
                                                                          std::chrono::steady_clock::time_point::max());

}  // namespace conpar::workloads
