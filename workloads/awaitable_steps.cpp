#include "workloads/awaitable_steps.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>

#include "workloads/kernel.hpp"
#include "workloads/tcp_protocol.hpp"

namespace conpar::workloads {

namespace {

namespace asio = boost::asio;

// Waits `micros` on `timer`, or until `limit` if that comes first; false when it was cut short there.
asio::awaitable<bool> wait_micros(asio::steady_timer& timer, std::uint64_t micros,
                                  std::chrono::steady_clock::time_point limit) {
  const auto wanted = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  timer.expires_at(std::min(wanted, limit));
  co_await timer.async_wait(asio::use_awaitable);
  co_return wanted <= limit;
}

// One request/response on the lane's connection; returns the sum of the response's words. A failure names
// the request and the server, and drops the connection (it may hold half a response).
asio::awaitable<std::uint64_t> tcp_round_trip(const request& r, std::uint64_t arg, async_lane& lane) {
  const tcp_shape shape = tcp_shape::unpack(arg);
  try {
    if (!lane.socket || lane.port != shape.port) {
      lane.socket.emplace(lane.timer.get_executor());
      lane.port = shape.port;
      co_await lane.socket->async_connect({asio::ip::address_v4::loopback(), shape.port}, asio::use_awaitable);
      lane.socket->set_option(asio::ip::tcp::no_delay(true));
    }
    const tcp_message msg{r.id, shape.delay_us, shape.response_bytes};
    co_await asio::async_write(*lane.socket, asio::buffer(&msg, sizeof msg), asio::use_awaitable);
    lane.response.resize(shape.response_bytes / 8);
    co_await asio::async_read(*lane.socket, asio::buffer(lane.response.data(), shape.response_bytes), asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    lane.socket.reset();
    throw std::runtime_error("tcp: request " + std::to_string(r.id) + " to 127.0.0.1:" + std::to_string(shape.port) +
                             ": " + e.code().message());
  }
  co_return std::accumulate(lane.response.begin(), lane.response.end(), std::uint64_t{0});
}

}  // namespace

async_lane::~async_lane() {
  if (!socket || !socket->is_open()) return;
  boost::system::error_code ignored;
  socket->set_option(asio::socket_base::linger(true, 0), ignored);
  socket->close(ignored);
}

asio::awaitable<std::uint64_t> execute_steps_awaitable(const request& r, std::uint64_t acc, std::size_t first,
                                                       std::size_t last, async_lane& lane,
                                                       std::chrono::steady_clock::time_point limit) {
  for (std::size_t i = first; i < last; ++i) {
    const step& s = r.steps[i];
    switch (s.kind) {
      case step_kind::compute: acc = fold_compute(acc, s.arg); break;
      case step_kind::wait:
        if (!co_await wait_micros(lane.timer, s.arg, limit)) throw_cut_off(r);
        acc = fold_wait(acc, s.arg);
        break;
      case step_kind::stream: acc = run_stream(r, acc, s.arg); break;  // CPU-side work, like compute
      case step_kind::tcp: acc = fold_tcp(acc, co_await tcp_round_trip(r, s.arg, lane)); break;
      case step_kind::fail: fail_if_due(r, s.arg); break;
      case step_kind::stall:
        if (const auto us = stall_us(r, s.arg); us > 0 && !co_await wait_micros(lane.timer, us, limit)) throw_cut_off(r);
        break;
      case step_kind::none: break;
    }
  }
  co_return acc;
}

}  // namespace conpar::workloads
