// Executes a request as a C++20 coroutine on an Asio event loop: the form used by the coro runner.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>

#include "workloads/kernel.hpp"
#include "workloads/request.hpp"

namespace conpar::workloads {

// Runs steps [first, last) of `r`, folding each into `acc`; returns the new fold (a pipeline's stage runs its one
// step this way). Computes on the loop thread (blocking it, as real code would) and co_awaits waits on `timer`,
// which the caller owns and reuses across requests, so the hot path creates no timer per request. No wait
// outlasts `limit` (the cell's watchdog deadline): one that would is cut off there and throws.
[[nodiscard]] boost::asio::awaitable<std::uint64_t> execute_steps_awaitable(
    const request& r, std::uint64_t acc, std::size_t first, std::size_t last, boost::asio::steady_timer& timer,
    std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());

// Runs every step of `r`; its result is the request's checksum. Not a coroutine itself: no second frame.
[[nodiscard]] inline boost::asio::awaitable<std::uint64_t> execute_awaitable(
    const request& r, boost::asio::steady_timer& timer,
    std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max()) {
  return execute_steps_awaitable(r, fold_start(r), 0, k_max_steps, timer, limit);
}

}  // namespace conpar::workloads
