// The tcp workload end to end against our server: the wire format, round trips from both clients, the
// server's delay, failures that name the request, and a server that never outlives its starter.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "workloads/awaitable_steps.hpp"
#include "workloads/blocking_steps.hpp"
#include "workloads/kernel.hpp"
#include "workloads/tcp_protocol.hpp"
#include "workloads/tcp_server.hpp"
#include "workloads/workload.hpp"

using namespace conpar::workloads;
using namespace std::chrono_literals;

namespace {

const calibration k_tcp_cal{300.0};

workload_spec tcp_spec(double delay_us, double response_bytes) {
  return make_spec(*find_workload("tcp"), {{"delay_us", delay_us}, {"response_bytes", response_bytes}}, k_tcp_cal);
}

// Running, not a zombie waiting for whoever reaps it (init, once the server's parent is gone).
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  return pid > 0 && close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace

TEST(Tcp, ShapeSurvivesTheStepArgument) {
  const tcp_shape s{54321, tcp_shape::k_max_field, 1 << 20};
  const auto back = tcp_shape::unpack(s.pack());
  EXPECT_EQ(back.port, 54321);
  EXPECT_EQ(back.delay_us, tcp_shape::k_max_field);
  EXPECT_EQ(back.response_bytes, 1u << 20);
}

TEST(Tcp, DigestInClosedFormIsTheSumOfTheWords) {
  for (const std::uint32_t bytes : {8u, 16u, 24u, 1024u, 8u * 1001u}) {
    std::uint64_t sum = 0;
    for (std::uint64_t k = 0; k < bytes / 8; ++k) sum += response_word(77, k);
    EXPECT_EQ(response_digest(77, bytes), sum) << bytes;
  }
  EXPECT_NE(response_digest(1, 1024), response_digest(2, 1024));
}

TEST(Tcp, ResponseBytesMustBeAMultipleOfEight) {
  EXPECT_THROW((void)tcp_spec(0, 100), std::invalid_argument);
}

TEST(Tcp, BlockingRoundTripsMatchTheReferenceAndWaitForTheServer) {
  const auto spec = tcp_spec(2000, 4096);
  for (std::uint64_t id = 0; id < 5; ++id) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(execute_blocking(spec.make(id)), expected_checksum(spec.make(id)));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 2ms) << "the server's service delay";
  }
  // A response far larger than a socket buffer arrives in many reads.
  const auto big = tcp_spec(0, 1 << 20);
  EXPECT_EQ(execute_blocking(big.make(9)), expected_checksum(big.make(9)));
}

TEST(Tcp, ManyCoroutinesEachWithItsOwnConnection) {
  const auto spec = tcp_spec(1000, 256);
  boost::asio::io_context io(1);
  constexpr int k_lanes = 500, k_each = 4;
  int done = 0;
  std::uint64_t got = 0, want = 0;
  for (int l = 0; l < k_lanes; ++l) {
    boost::asio::co_spawn(
        io,
        [&, l]() -> boost::asio::awaitable<void> {
          async_lane lane(co_await boost::asio::this_coro::executor);
          for (int k = 0; k < k_each; ++k) {
            const auto r = spec.make(static_cast<std::uint64_t>(l * k_each + k));
            got += co_await execute_awaitable(r, lane);
            want += expected_checksum(r);
            ++done;
          }
        },
        boost::asio::detached);
  }
  const auto start = std::chrono::steady_clock::now();
  io.run();
  EXPECT_EQ(done, k_lanes * k_each);
  EXPECT_EQ(got, want);
  // 2,000 requests of 1 ms: one at a time that is 2 s; 500 connections in flight overlap them.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(Tcp, ADeadServerFailsTheRequestNamingItAndAFreshOneServesAgain) {
  const auto before = tcp_spec(0, 64);
  EXPECT_EQ(execute_blocking(before.make(1)), expected_checksum(before.make(1)));  // connected
  const pid_t old = tcp_server_pid();
  ASSERT_TRUE(alive(old));
  stop_tcp_server();
  EXPECT_EQ(tcp_server_pid(), 0);
  EXPECT_FALSE(alive(old)) << "stopped and reaped";
  try {
    (void)execute_blocking(before.make(42));
    ADD_FAILURE() << "a request to a stopped server succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("request 42"), std::string::npos) << e.what();
  }
  const auto after = tcp_spec(0, 64);  // a new server, on a new port
  EXPECT_EQ(execute_blocking(after.make(3)), expected_checksum(after.make(3)));
}

TEST(Tcp, TheServerDiesWithTheProcessThatStartedIt) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {  // starts its own server, reports its pid, then is killed
    stop_tcp_server();  // forgets the parent's server (not this process's to stop): starts its own below
    (void)tcp_spec(0, 64);
    const pid_t server = tcp_server_pid();
    (void)!write(fds[1], &server, sizeof server);
    pause();
    _exit(0);
  }
  pid_t server = 0;
  ASSERT_EQ(read(fds[0], &server, sizeof server), static_cast<ssize_t>(sizeof server));
  ASSERT_TRUE(alive(server));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // Re-parented to the nearest subreaper or init, which reaps it; poll until it is gone.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (alive(server) && std::chrono::steady_clock::now() < deadline) {
    waitpid(server, nullptr, WNOHANG);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(alive(server));
  close(fds[0]);
  close(fds[1]);
}
