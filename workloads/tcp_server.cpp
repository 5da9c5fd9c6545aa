#include "workloads/tcp_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <queue>
#include <system_error>
#include <vector>

#include "workloads/tcp_protocol.hpp"

namespace conpar::workloads {
namespace {

using clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// One client connection. Our clients send a request and wait for its response, so a connection has at most
// one response due or being written (`busy`); bytes a client sends meanwhile wait in the kernel.
struct connection {
  std::array<char, sizeof(tcp_message)> in{};
  std::size_t in_len = 0;
  std::vector<std::uint64_t> out;
  std::size_t out_bytes = 0, out_sent = 0;
  bool busy = false;
  std::uint64_t generation = 0;  // bumped on close: a response due for an earlier connection on this fd is dropped
};

struct due_response {
  clock::time_point at;
  int fd;
  std::uint64_t generation;
  tcp_message msg;
  bool operator>(const due_response& o) const noexcept { return at > o.at; }
};

class server_loop {
 public:
  explicit server_loop(int listen_fd) : m_listen(listen_fd), m_epoll(epoll_create1(EPOLL_CLOEXEC)) {
    if (m_epoll < 0) _exit(1);
    add(m_listen, EPOLLIN);
  }

  [[noreturn]] void run() {
    std::array<epoll_event, 256> events;
    for (;;) {
      timespec timeout{};
      const timespec* wait = nullptr;  // no response due: sleep until a socket wakes us
      if (!m_due.empty()) {
        const auto left = std::max(clock::duration::zero(), m_due.top().at - clock::now());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timeout = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        wait = &timeout;
      }
      // epoll_pwait2: a nanosecond timeout, so a 100 us service delay is not rounded up to a millisecond.
      const int n = epoll_pwait2(m_epoll, events.data(), static_cast<int>(events.size()), wait, nullptr);
      if (n < 0 && errno != EINTR) _exit(1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == m_listen) {
          accept_all();
          continue;
        }
        if (events[i].events & EPOLLOUT) flush(fd);
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_requests(fd);
      }
      const auto now = clock::now();
      while (!m_due.empty() && m_due.top().at <= now) {
        const due_response d = m_due.top();
        m_due.pop();
        if (d.generation == m_conns[static_cast<std::size_t>(d.fd)].generation) respond(d.fd, d.msg);
      }
    }
  }

 private:
  void add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) < 0) _exit(1);
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(m_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: all taken; EMFILE: the harness checked the limit before the cell
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= m_conns.size()) m_conns.resize(static_cast<std::size_t>(fd) + 1);
      connection& c = m_conns[static_cast<std::size_t>(fd)];
      const auto generation = c.generation;
      c = connection{};
      c.generation = generation;
      // Edge-triggered: one registration for the connection's life, no epoll_ctl per request.
      add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    }
  }

  void close_connection(int fd) {
    connection& c = m_conns[static_cast<std::size_t>(fd)];
    ++c.generation;
    c.busy = false;
    c.in_len = 0;
    close(fd);  // also leaves the epoll set
  }

  // Reads until the socket is drained or a request is complete and its response not yet written.
  void read_requests(int fd) {
    connection& c = m_conns[static_cast<std::size_t>(fd)];
    while (!c.busy) {
      const ssize_t n = recv(fd, c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_connection(fd);  // the client closed (or reset) its end
        return;
      }
      if (n < 0) {
        if (errno == EAGAIN) return;
        continue;
      }
      c.in_len += static_cast<std::size_t>(n);
      if (c.in_len < c.in.size()) continue;
      tcp_message msg;
      std::memcpy(&msg, c.in.data(), sizeof msg);
      c.in_len = 0;
      if (msg.response_bytes % 8 != 0 || msg.response_bytes > tcp_shape::k_max_field) {
        close_connection(fd);  // not one of our clients
        return;
      }
      c.busy = true;
      if (msg.delay_us == 0) {
        respond(fd, msg);
      } else {
        m_due.push({clock::now() + std::chrono::microseconds(msg.delay_us), fd, c.generation, msg});
      }
    }
  }

  void respond(int fd, const tcp_message& msg) {
    connection& c = m_conns[static_cast<std::size_t>(fd)];
    c.out.resize(msg.response_bytes / 8);
    for (std::size_t k = 0; k < c.out.size(); ++k) c.out[k] = response_word(msg.id, k);
    c.out_bytes = msg.response_bytes;
    c.out_sent = 0;
    flush(fd);
  }

  // Writes what the socket takes; the rest goes when EPOLLOUT says there is room. A finished response frees
  // the connection for the request that may already be waiting behind it.
  void flush(int fd) {
    connection& c = m_conns[static_cast<std::size_t>(fd)];
    if (!c.busy || c.out_bytes == 0) return;
    while (c.out_sent < c.out_bytes) {
      const ssize_t n = send(fd, reinterpret_cast<const char*>(c.out.data()) + c.out_sent, c.out_bytes - c.out_sent,
                             MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) close_connection(fd);
        return;
      }
      c.out_sent += static_cast<std::size_t>(n);
    }
    c.busy = false;
    c.out_bytes = 0;
    read_requests(fd);
  }

  int m_listen;
  int m_epoll;
  std::vector<connection> m_conns;  // by fd
  std::priority_queue<due_response, std::vector<due_response>, std::greater<>> m_due;
};

[[noreturn]] void serve(int listen_fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the harness, however the harness ends
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);           // a Ctrl-C is the harness's to handle; it stops us on its way out
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  if (getppid() != parent) _exit(0);  // the parent died before PR_SET_PDEATHSIG took effect
  server_loop(listen_fd).run();
}

class server_process {
 public:
  ~server_process() { stop(); }

  std::uint16_t port() {
    std::lock_guard lock(m_mutex);
    if (m_pid > 0) return m_port;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("tcp server: socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    // Listening before the fork: connections queue in the backlog even before the child's loop runs.
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
      const int e = errno;
      close(fd);
      throw std::system_error(e, std::generic_category(), "tcp server: cannot listen on 127.0.0.1");
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      const int e = errno;
      close(fd);
      throw std::system_error(e, std::generic_category(), "tcp server: fork");
    }
    if (pid == 0) serve(fd, parent);
    close(fd);
    m_pid = pid;
    m_owner = parent;
    m_port = ntohs(addr.sin_port);
    return m_port;
  }

  pid_t pid() const noexcept { return m_pid; }

  // Only the process that started the server stops it; a process that inherited this object (a worker forked
  // later) only forgets it.
  void stop() noexcept {
    if (m_pid > 0 && getpid() == m_owner) {
      kill(m_pid, SIGKILL);
      while (waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    m_pid = 0;
  }

 private:
  std::mutex m_mutex;
  pid_t m_pid = 0;
  pid_t m_owner = 0;
  std::uint16_t m_port = 0;
};

server_process g_server;  // destroyed at exit: the server stops with the process that started it

}  // namespace

std::uint16_t tcp_server_port() { return g_server.port(); }
pid_t tcp_server_pid() noexcept { return g_server.pid(); }
void stop_tcp_server() noexcept { g_server.stop(); }

double tcp_server_cpu_s() noexcept {
  const pid_t pid = g_server.pid();
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/schedstat", static_cast<int>(pid));
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return -1;
  unsigned long long ns = 0;
  const bool ok = std::fscanf(f, "%llu", &ns) == 1;
  std::fclose(f);
  return ok ? static_cast<double>(ns) / 1e9 : -1;
}

}  // namespace conpar::workloads
