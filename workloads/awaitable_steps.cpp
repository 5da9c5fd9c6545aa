#include "workloads/awaitable_steps.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <chrono>

#include "workloads/kernel.hpp"

namespace conpar::workloads {

namespace {

// Waits `micros` on `timer`, or until `limit` if that comes first; false when it was cut short there.
boost::asio::awaitable<bool> wait_micros(boost::asio::steady_timer& timer, std::uint64_t micros,
                                         std::chrono::steady_clock::time_point limit) {
  const auto wanted = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  timer.expires_at(std::min(wanted, limit));
  co_await timer.async_wait(boost::asio::use_awaitable);
  co_return wanted <= limit;
}

}  // namespace

boost::asio::awaitable<std::uint64_t> execute_steps_awaitable(const request& r, std::uint64_t acc, std::size_t first,
                                                              std::size_t last, boost::asio::steady_timer& timer,
                                                              std::chrono::steady_clock::time_point limit) {
  for (std::size_t i = first; i < last; ++i) {
    const step& s = r.steps[i];
    switch (s.kind) {
      case step_kind::compute: acc = fold_compute(acc, s.arg); break;
      case step_kind::wait:
        if (!co_await wait_micros(timer, s.arg, limit)) throw_cut_off(r);
        acc = fold_wait(acc, s.arg);
        break;
      case step_kind::stream: acc = run_stream(r, acc, s.arg); break;  // CPU-side work, like compute
      case step_kind::fail: fail_if_due(r, s.arg); break;
      case step_kind::stall:
        if (const auto us = stall_us(r, s.arg); us > 0 && !co_await wait_micros(timer, us, limit)) throw_cut_off(r);
        break;
      case step_kind::none: break;
    }
  }
  co_return acc;
}

}  // namespace conpar::workloads
