#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <gtest/gtest.h>

#include "workloads/awaitable_steps.hpp"
#include "workloads/blocking_steps.hpp"
#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

using namespace conpar::workloads;

namespace {
const calibration k_steps_cal{50.0};

request mixed_request(std::uint64_t id) {
  return make_spec(*find_workload("mixed"), {{"request_us", 2000}, {"cpu_share", 0.5}}, k_steps_cal).make(id);
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
  async_lane lane(io.get_executor());
  std::uint64_t got = 0;
  auto body = [&]() -> boost::asio::awaitable<void> { got = co_await execute_awaitable(r, lane); };
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(io, body(), boost::asio::detached);
  io.run();
  EXPECT_EQ(got, expected_checksum(r));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(1000));
}

// A stalled request's wait ends at the limit (the cell's watchdog deadline) with an error naming it.
request stalled_request(std::uint64_t id) {
  request r;
  r.id = id;
  r.steps[0] = step{step_kind::stall, id};
  return r;
}

TEST(Steps, BlockingStallIsCutOffAtTheLimit) {
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)execute_blocking(stalled_request(7), start + std::chrono::milliseconds(50));
    ADD_FAILURE() << "a stalled wait must be cut off";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("watchdog: request 7"), std::string::npos) << e.what();
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(50));
  EXPECT_LT(took, std::chrono::seconds(5));
  request other = stalled_request(7);
  other.steps[0].arg = 8;  // stalls request 8, not this one
  EXPECT_EQ(execute_blocking(other, start), expected_checksum(other)) << "only the named request stalls";
}

TEST(Steps, AwaitableStallIsCutOffAtTheLimit) {
  boost::asio::io_context io(1);
  async_lane lane(io.get_executor());
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  auto body = [&]() -> boost::asio::awaitable<void> {
    try {
      (void)co_await execute_awaitable(stalled_request(9), lane, start + std::chrono::milliseconds(50));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  };
  boost::asio::co_spawn(io, body(), boost::asio::detached);
  io.run();
  EXPECT_NE(error.find("watchdog: request 9"), std::string::npos) << error;
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(50));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(Steps, ChecksumsDifferPerRequest) {
  EXPECT_NE(expected_checksum(mixed_request(1)), expected_checksum(mixed_request(2)));
}

// A pipeline's stages each run one step and hand the fold on: step by step, blocking or awaited, the fold is the
// whole request's checksum.
TEST(Steps, StepByStepFoldsToTheChecksum) {
  const request r = mixed_request(5);
  std::uint64_t acc = fold_start(r);
  for (std::size_t k = 0; k < k_max_steps; ++k) acc = execute_steps_blocking(r, acc, k, k + 1);
  EXPECT_EQ(acc, expected_checksum(r));
  EXPECT_EQ(execute_steps_blocking(r, fold_start(r), 0, 0), fold_start(r)) << "an empty range folds nothing";

  boost::asio::io_context io(1);
  async_lane lane(io.get_executor());
  std::uint64_t awaited = fold_start(r);
  auto body = [&]() -> boost::asio::awaitable<void> {
    awaited = co_await execute_steps_awaitable(r, awaited, 0, 1, lane);
    awaited = co_await execute_steps_awaitable(r, awaited, 1, k_max_steps, lane);
  };
  boost::asio::co_spawn(io, body(), boost::asio::detached);
  io.run();
  EXPECT_EQ(awaited, expected_checksum(r));
}
