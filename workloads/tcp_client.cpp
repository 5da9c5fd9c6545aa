#include "workloads/tcp_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "workloads/kernel.hpp"
#include "workloads/tcp_protocol.hpp"

namespace conpar::workloads {
namespace {

using clock = std::chrono::steady_clock;

// How long one blocking read waits before it looks at the cell's deadline: no syscall is added per request,
// yet a server that never answers cannot hold a lane past the watchdog.
constexpr timeval k_read_timeout{0, 100'000};

// Closing with SO_LINGER 0 resets the connection instead of leaving it in TIME_WAIT: a suite opens
// tens of thousands of loopback connections, and TIME_WAIT would pin an ephemeral port for a minute each.
void close_now(int fd) noexcept {
  const linger abort_on_close{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close(fd);
}

struct connection {
  int fd = -1;
  std::uint16_t port = 0;
  std::vector<std::uint64_t> response;  // reused: no allocation per request

  ~connection() { reset(); }
  void reset() noexcept {
    if (fd >= 0) close_now(fd);
    fd = -1;
  }
  [[noreturn]] void fail(const request& r, const std::string& what) {
    reset();  // the stream may hold half a response: the next request starts on a new connection
    throw std::runtime_error("tcp: request " + std::to_string(r.id) + " to 127.0.0.1:" + std::to_string(port) + ": " + what);
  }
  void open(const request& r, std::uint16_t to) {
    reset();
    port = to;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(r, std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &k_read_timeout, sizeof k_read_timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(to);
    while (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
      if (errno != EINTR) fail(r, std::string("connect: ") + std::strerror(errno));
  }
};

thread_local connection t_connection;

}  // namespace

std::uint64_t tcp_round_trip_blocking(const request& r, std::uint64_t arg, clock::time_point limit) {
  const tcp_shape shape = tcp_shape::unpack(arg);
  connection& c = t_connection;
  if (c.fd < 0 || c.port != shape.port) c.open(r, shape.port);
  const tcp_message msg{r.id, shape.delay_us, shape.response_bytes};
  for (std::size_t sent = 0; sent < sizeof msg;) {
    const ssize_t n = send(c.fd, reinterpret_cast<const char*>(&msg) + sent, sizeof msg - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR) c.fail(r, std::string("send: ") + std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  c.response.resize(shape.response_bytes / 8);
  char* const into = reinterpret_cast<char*>(c.response.data());
  for (std::size_t got = 0; got < shape.response_bytes;) {
    const ssize_t n = recv(c.fd, into + got, shape.response_bytes - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0) {
      c.fail(r, "the server closed the connection");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (clock::now() > limit) {
        c.reset();
        throw_cut_off(r);
      }
    } else if (errno != EINTR) {
      c.fail(r, std::string("recv: ") + std::strerror(errno));
    }
  }
  return std::accumulate(c.response.begin(), c.response.end(), std::uint64_t{0});
}

}  // namespace conpar::workloads
