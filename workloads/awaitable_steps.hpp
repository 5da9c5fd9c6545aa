// Executes a request as a C++20 coroutine on an Asio event loop: the form used by the coro runner.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>

#include "workloads/request.hpp"

namespace conpar::workloads {

// Computes on the loop thread (blocking it, as real code would) and co_awaits waits on `timer`, which the
// caller owns and reuses across requests, so the hot path creates no timer per request. No wait outlasts
// `limit` (the cell's watchdog deadline): one that would is cut off there and throws.
[[nodiscard]] boost::asio::awaitable<std::uint64_t> execute_awaitable(const request& r, boost::asio::steady_timer& timer,
                                                                      std::chrono::steady_clock::time_point limit =
                                                                          std::chrono::steady_clock::time_point::max());

}  // namespace conpar::workloads
