#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <gtest/gtest.h>

#include "workloads/awaitable_steps.hpp"
#include "workloads/blocking_steps.hpp"
#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

using namespace conpar::workloads;

namespace {
const calibration k_cal{50.0};

request mixed_request(std::uint64_t id) {
  return make_spec(*find_workload("mixed"), {{"request_us", 2000}, {"cpu_share", 0.5}}, k_cal).make(id);
}
}  // namespace

TEST(Steps, BlockingMatchesTheReferenceAndWaits) {
  const request r = mixed_request(3);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(execute_blocking(r), expected_checksum(r));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(1000));
}

TEST(Steps, AwaitableMatchesTheReferenceAndWaits) {
  const request r = mixed_request(4);
  boost::asio::io_context io(1);
  boost::asio::steady_timer timer(io);
  std::uint64_t got = 0;
  auto body = [&]() -> boost::asio::awaitable<void> { got = co_await execute_awaitable(r, timer); };
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(io, body(), boost::asio::detached);
  io.run();
  EXPECT_EQ(got, expected_checksum(r));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(1000));
}

TEST(Steps, ChecksumsDifferPerRequest) {
  EXPECT_NE(expected_checksum(mixed_request(1)), expected_checksum(mixed_request(2)));
}
