// Facts about the machine and build that make a result interpretable (and comparable) later.
#pragma once

#include <array>
#include <string>

namespace conpar::harness {

// Cores this process may run on (sched_getaffinity), not the machine's total: experiments scale to these.
[[nodiscard]] unsigned available_cores() noexcept;
[[nodiscard]] std::string cpu_model();
[[nodiscard]] std::string kernel_release();
[[nodiscard]] std::array<double, 3> load_average() noexcept;
// The source tree's commit (with "-dirty" when it has uncommitted changes), or "unknown" outside git.
[[nodiscard]] std::string git_commit();

}  // namespace conpar::harness
