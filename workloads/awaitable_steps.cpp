#include "workloads/awaitable_steps.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "workloads/kernel.hpp"

namespace conpar::workloads {

boost::asio::awaitable<std::uint64_t> execute_awaitable(const request& r, boost::asio::steady_timer& timer) {
  std::uint64_t acc = fold_start(r);
  for (const step& s : r.steps) {
    switch (s.kind) {
      case step_kind::compute: acc = fold_compute(acc, s.arg); break;
      case step_kind::wait:
        timer.expires_after(std::chrono::microseconds(s.arg));
        co_await timer.async_wait(boost::asio::use_awaitable);
        acc = fold_wait(acc, s.arg);
        break;
      case step_kind::fail: fail_if_due(r, s.arg); break;
      case step_kind::none: break;
    }
  }
  co_return acc;
}

}  // namespace conpar::workloads
