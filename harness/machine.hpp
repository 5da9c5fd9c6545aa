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

// What one thread's memcpy copies per second (GB/s, 1e9 bytes) between two buffers of `bytes` each, best of
// a few copies: the plain bandwidth the memory workload's figures stand beside. Its memory traffic is twice
// this (each byte read once and written once: STREAM's "Copy" counts both).
[[nodiscard]] double memcpy_gb_per_s(std::size_t bytes);

}  // namespace conpar::harness
