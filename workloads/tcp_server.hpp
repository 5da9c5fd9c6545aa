// The tcp workload's server: ours, event-driven (one epoll loop), in its own process, on 127.0.0.1.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace conpar::workloads {

// Starts the server on first use and returns its port. It runs in a child of the calling process, forked
// while the caller is single-threaded (the harness asks while it builds its cells, before the runners start
// theirs), and the process that started it stops it at exit; it also dies with that process
// (PR_SET_PDEATHSIG), whatever kills it. Throws std::system_error when it cannot start.
[[nodiscard]] std::uint16_t tcp_server_port();

// The server's pid, 0 when none runs (tests).
[[nodiscard]] pid_t tcp_server_pid() noexcept;

// The CPU time the server has used so far, in seconds (/proc/PID/schedstat: nanoseconds, not 10 ms ticks; the
// server is one thread), or a negative number when none runs or it cannot be read. The harness takes it
// around a cell, so a tcp row can say whether the server, not the runner, was the bottleneck.
[[nodiscard]] double tcp_server_cpu_s() noexcept;

// Stops the server now and reaps it (in a process that inherited it: forgets it); the next tcp_server_port()
// starts a new one.
void stop_tcp_server() noexcept;

}  // namespace conpar::workloads
