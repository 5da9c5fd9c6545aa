// CPU time, context switches and peak memory of a process, so a cell's cost covers its whole process tree.
#pragma once

#include <cstdint>

namespace conpar::harness {

struct resource_usage {
  double user_s = 0;
  double sys_s = 0;
  std::int64_t ctx_voluntary = 0;
  std::int64_t ctx_involuntary = 0;
  std::int64_t page_faults = 0;  // minor + major: a first touch of a page, a copy-on-write after fork()
  std::int64_t rss_peak_kb = 0;  // peak since the last reset_peak_rss(); summed, never subtracted

  // This process (all its threads) plus its waited-for children, and its peak RSS (VmHWM).
  [[nodiscard]] static resource_usage of_this_process();

  // Differences of the cumulative fields; the peak is taken from `later` as it is.
  [[nodiscard]] friend resource_usage operator-(const resource_usage& later, const resource_usage& earlier) noexcept {
    return {later.user_s - earlier.user_s,
            later.sys_s - earlier.sys_s,
            later.ctx_voluntary - earlier.ctx_voluntary,
            later.ctx_involuntary - earlier.ctx_involuntary,
            later.page_faults - earlier.page_faults,
            later.rss_peak_kb};
  }
  resource_usage& operator+=(const resource_usage& o) noexcept {
    user_s += o.user_s;
    sys_s += o.sys_s;
    ctx_voluntary += o.ctx_voluntary;
    ctx_involuntary += o.ctx_involuntary;
    page_faults += o.page_faults;
    rss_peak_kb += o.rss_peak_kb;
    return *this;
  }
};

// Resets this process's VmHWM to its current RSS (Linux clear_refs), so each cell reports its own peak
// instead of the whole run's; a no-op where the kernel does not allow it.
void reset_peak_rss() noexcept;

// Number of threads of this process, read from /proc (fork is only safe while this is 1).
[[nodiscard]] int thread_count() noexcept;

}  // namespace conpar::harness
