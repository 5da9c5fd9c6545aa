// Facts about the machine and build that make a result interpretable (and comparable) later.
#pragma once

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
// Why `needed` more descriptors cannot be opened in this process, or "" when they can: counts those open
// now (/proc/self/fd, so earlier cells' connections still open count) against the soft limit.
[[nodiscard]] std::string descriptor_shortfall(unsigned long long needed);

// What one thread's memcpy copies per second (GB/s, 1e9 bytes) between two buffers of `bytes` each, best of
// a few copies: the plain bandwidth the memory workload's figures stand beside. Its memory traffic is twice
// this (each byte read once and written once: STREAM's "Copy" counts both).
[[nodiscard]] double memcpy_gb_per_s(std::size_t bytes);

}  // namespace conpar::harness
