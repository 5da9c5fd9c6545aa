// channel<T>: FIFO; a receive waits while the channel is empty and a send while it is full; close() ends the stream
// after the values in it; completions never run inside the call that caused them; a waiting operation keeps the
// loop running.
#include "runners/channel.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using conpar::runners::channel;
using namespace std::chrono_literals;

asio::awaitable<void> send_all(channel<int>& ch, int n, std::vector<int>& sent) {
  for (int i = 0; i < n; ++i)
    if (co_await ch.async_send(i, asio::use_awaitable)) sent.push_back(i);
}

asio::awaitable<void> receive_all(channel<int>& ch, std::vector<int>& got) {
  while (const auto v = co_await ch.async_receive(asio::use_awaitable)) got.push_back(*v);
}

TEST(Channel, AReceiveWaitsWhileEmptyAndValuesArriveInOrder) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 4);
  std::vector<int> got, sent;
  asio::co_spawn(io, receive_all(ch, got), asio::detached);
  io.poll();
  EXPECT_TRUE(got.empty()) << "nothing sent yet: the receiver waits";
  asio::co_spawn(io, send_all(ch, 10, sent), asio::detached);
  io.poll();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  ch.close();
  io.run();  // the receiver sees the end and returns: nothing is left to run
  EXPECT_EQ(sent.size(), 10u);
}

TEST(Channel, ASendWaitsWhileFull) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 2);
  std::vector<int> got, sent;
  asio::co_spawn(io, send_all(ch, 5, sent), asio::detached);
  io.poll();
  EXPECT_EQ(sent, (std::vector<int>{0, 1})) << "two places: the third send waits";
  EXPECT_EQ(ch.size(), 2u);
  asio::co_spawn(io, receive_all(ch, got), asio::detached);
  io.poll();
  EXPECT_EQ(sent.size(), 5u);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_LE(ch.size(), ch.capacity());
  ch.close();
  io.run();
}

TEST(Channel, CloseEndsTheStreamAfterTheValuesInIt) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 3);
  std::vector<int> got, sent;
  asio::co_spawn(io, send_all(ch, 3, sent), asio::detached);
  io.run();
  ch.close();
  EXPECT_TRUE(ch.closed());
  asio::co_spawn(io, receive_all(ch, got), asio::detached);
  io.restart();
  io.run();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2})) << "closing keeps what was sent";
  int later = 7;
  EXPECT_FALSE(ch.try_send(later));
  std::optional<bool> sent_after_close;
  ch.async_send(8, [&](bool ok) { sent_after_close = ok; });
  io.restart();
  io.run();
  EXPECT_EQ(sent_after_close, false);
}

TEST(Channel, CloseWakesWaitingReceiversAndSenders) {
  asio::io_context io;
  channel<int> empty(io.get_executor(), 1);
  channel<int> full(io.get_executor(), 1);
  int one = 1;
  ASSERT_TRUE(full.try_send(one));
  std::optional<std::optional<int>> received;
  std::optional<bool> sent;
  empty.async_receive([&](std::optional<int> v) { received = v; });
  full.async_send(2, [&](bool ok) { sent = ok; });
  io.poll();
  EXPECT_FALSE(received);
  EXPECT_FALSE(sent);
  empty.close();
  full.close();
  io.poll();
  ASSERT_TRUE(received);
  EXPECT_EQ(*received, std::nullopt) << "a waiting receiver of a closed, empty channel gets the end";
  EXPECT_EQ(sent, false) << "a waiting sender's value is dropped";
  EXPECT_EQ(full.try_receive(), 1) << "what was in the channel before close() stays";
}

TEST(Channel, CompletionsNeverRunInsideTheCall) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 1);
  bool sent = false;
  std::optional<int> got;
  ch.async_send(5, [&](bool) { sent = true; });
  EXPECT_FALSE(sent) << "completes through the loop, never inline";
  ch.async_receive([&](std::optional<int> v) { got = v; });
  EXPECT_FALSE(got);
  io.run();
  EXPECT_TRUE(sent);
  EXPECT_EQ(got, 5);
}

TEST(Channel, AWaitingOperationKeepsTheLoopRunning) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 1);
  std::optional<int> got;
  ch.async_receive([&](std::optional<int> v) { got = v; });
  io.run_for(20ms);
  EXPECT_FALSE(io.stopped()) << "run() must not return while a receive waits";
  int v = 42;
  ASSERT_TRUE(ch.try_send(v)) << "a waiting receiver takes it directly";
  io.run();  // returns once the receive has completed
  EXPECT_EQ(got, 42);
}

TEST(Channel, TryOperationsAndBadCapacity) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 1);
  int a = 1, b = 2;
  EXPECT_TRUE(ch.try_send(a));
  EXPECT_FALSE(ch.try_send(b)) << "full";
  EXPECT_EQ(b, 2) << "a refused value is left as it was";
  EXPECT_EQ(ch.try_receive(), 1);
  EXPECT_EQ(ch.try_receive(), std::nullopt) << "empty";
  EXPECT_THROW(channel<int>(io.get_executor(), 0), std::invalid_argument);
}

asio::awaitable<void> send_logged(channel<int>& ch, int n, std::vector<std::string>& log) {
  for (int i = 0; i < n; ++i)
    if (co_await ch.send(i)) log.push_back("sent " + std::to_string(i));
  ch.close();
}

asio::awaitable<void> receive_logged(channel<int>& ch, std::vector<std::string>& log) {
  while (const auto v = co_await ch.receive()) log.push_back("got " + std::to_string(*v));
}

TEST(Channel, TheCoroutineFormsSuspendOnlyWhenTheyMustWait) {
  asio::io_context io;
  channel<int> ch(io.get_executor(), 2);
  std::vector<std::string> log;
  asio::co_spawn(io, receive_logged(ch, log), asio::detached);  // runs first, finds nothing, waits
  asio::co_spawn(io, send_logged(ch, 4, log), asio::detached);
  io.run();
  // The sender keeps the loop until the channel is full (0 goes straight to the waiting receiver, 1 and 2 fill the
  // two places); the receiver then takes everything without waiting, 3 included, which took the place it freed.
  EXPECT_EQ(log, (std::vector<std::string>{"sent 0", "sent 1", "sent 2", "got 0", "got 1", "got 2", "got 3",
                                           "sent 3"}));
}

asio::awaitable<void> pass_pointers(channel<std::unique_ptr<int>>& ch, int& sum) {
  for (int i = 1; i <= 3; ++i) co_await ch.async_send(std::make_unique<int>(i), asio::use_awaitable);
  ch.close();
  while (auto p = co_await ch.async_receive(asio::use_awaitable)) sum += **p;
}

TEST(Channel, CarriesMoveOnlyValues) {
  asio::io_context io;
  channel<std::unique_ptr<int>> ch(io.get_executor(), 3);
  int sum = 0;
  asio::co_spawn(io, pass_pointers(ch, sum), asio::detached);
  io.run();
  EXPECT_EQ(sum, 6);
}

}  // namespace
