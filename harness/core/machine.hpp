// Facts about the machine and build that make a result interpretable (and comparable) later.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <string>

namespace conpar::harness {

// Cores this process may run on (sched_getaffinity), not the machine's total: experiments scale to these.
[[nodiscard]] unsigned available_cores() noexcept;
[[nodiscard]] std::string cpu_model();
[[nodiscard]] std::string kernel_release();
[[nodiscard]] std::array<double, 3> load_average() noexcept;
// The source tree's commit (with "-dirty" when it has uncommitted changes), or "unknown" outside git.
[[nodiscard]] std::string git_commit();

// The open-descriptor limit (RLIMIT_NOFILE), soft and hard.
struct descriptor_limit {
  unsigned long long soft = 0, hard = 0;
};
// Raises the soft limit to the hard one (Debian's default soft limit, 1,024, is below the tcp workload's
// 10,000 connections) and returns the limit now in force. Processes started later inherit it.
descriptor_limit raise_descriptor_limit() noexcept;
// Why `needed` more descriptors cannot be opened in this process, or in the tcp server `server` (> 0) that
// accepts them, or "" when they can: counts those open now (/proc/PID/fd, so earlier cells' connections still
// open count) against the soft limit, which the server inherited.
[[nodiscard]] std::string descriptor_shortfall(unsigned long long needed, pid_t server = 0);

// What one thread's memcpy copies per second (GB/s, 1e9 bytes) between two buffers of `bytes` each, best of
// a few copies: the plain bandwidth the memory workload's figures stand beside. Its memory traffic is twice
// this (each byte read once and written once: STREAM's "Copy" counts both).
[[nodiscard]] double memcpy_gb_per_s(std::size_t bytes);

// The machine's calibration beside the kernel's iterations_per_us: what a baseline's absolute numbers may be
// judged against only when these match (plots/baseline.py). Each is the best of a few short batches (a few ms in
// all), so one preemption does not move it.
// What one system call costs (ns): getppid, the cheapest real kernel entry and exit, which the hypervisor and
// the CPU-bug mitigations set, and which every blocking step and wake-up of a cell pays.
[[nodiscard]] double syscall_ns();
// What one futex ping-pong round trip between two threads costs (µs): each blocks, without spinning, until the
// other wakes it, so a round trip is two wake-ups, the price of every hand-off in threads' and procs' cells.
// Call it while no other thread matters: it starts and joins one thread.
[[nodiscard]] double futex_round_trip_us();

}  // namespace conpar::harness
