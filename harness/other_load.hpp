#pragma once
// What the rest of the machine did while the suite ran. The load average cannot say: the suite's own
// 1,000-thread and 1,000-process cells raise it. So the run counts the CPU time the whole machine spent
// (/proc/stat) and takes away what this process tree spent (/proc/PID/stat of conpar and every live
// descendant, with the children each has reaped); what is left is other work. Steal time is what the
// hypervisor gave to other guests.

#include <cstdint>
#include <sys/types.h>

namespace conpar::harness {

// Cumulative CPU seconds at one moment.
struct cpu_sample {
  double machine_busy_s = 0;  // user + nice + system of every CPU (guest time is inside user)
  double steal_s = 0;
  double tree_s = 0;  // this process and its live descendants, each with the children it has reaped
  double wall_s = 0;  // steady clock
};

// Reads /proc; a field that cannot be read stays 0.
[[nodiscard]] cpu_sample sample_cpu();

// The average between two samples, on a machine of `cores` cores.
struct other_load {
  double other_busy_cores = 0;  // CPU the machine spent outside this process tree, in cores
  double steal_fraction = 0;    // steal time over the cores' wall time
};
[[nodiscard]] other_load other_load_between(const cpu_sample& before, const cpu_sample& after, unsigned cores);

// CPU seconds (utime + stime + cutime + cstime) of one /proc/PID/stat line, and its parent: the parser is
// separate so that a test can give it a command name with spaces and parentheses.
struct stat_fields {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::uint64_t ticks = 0;
  bool ok = false;
};
[[nodiscard]] stat_fields parse_proc_stat(const char* line);

}  // namespace conpar::harness
