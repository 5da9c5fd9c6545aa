#include "harness/core/resource_usage.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace conpar::harness {
namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; }

std::int64_t status_field_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) return std::stoll(line.substr(n + 1));
  return 0;
}

}  // namespace

resource_usage resource_usage::of_this_process() {
  rusage self{};
  rusage children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  resource_usage u;
  u.user_s = seconds(self.ru_utime) + seconds(children.ru_utime);
  u.sys_s = seconds(self.ru_stime) + seconds(children.ru_stime);
  u.ctx_voluntary = self.ru_nvcsw + children.ru_nvcsw;
  u.ctx_involuntary = self.ru_nivcsw + children.ru_nivcsw;
  u.page_faults = self.ru_minflt + self.ru_majflt + children.ru_minflt + children.ru_majflt;
  u.rss_peak_kb = status_field_kb("VmHWM:");
  return u;
}

void reset_peak_rss() noexcept {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);  // "5" resets the peak RSS (proc(5))
    std::fclose(f);
  }
}

int thread_count() noexcept {
  try {
    return static_cast<int>(status_field_kb("Threads:"));
  } catch (...) {
    return -1;
  }
}

}  // namespace conpar::harness
