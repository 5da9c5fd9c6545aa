#include "harness/other_load.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace conpar::harness {
namespace {

double ticks_per_s() {
  static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return hz;
}

bool read_line(const std::string& path, std::string& line) {
  std::ifstream in(path);
  return static_cast<bool>(std::getline(in, line));
}

// Every process's stat, keyed by pid: one pass over /proc, so that descendants are found without racing
// a second read of each parent.
std::vector<stat_fields> all_processes() {
  std::vector<stat_fields> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  std::string line;
  while (const dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (!read_line(std::string("/proc/") + e->d_name + "/stat", line)) continue;  // it exited meanwhile
    if (const stat_fields f = parse_proc_stat(line.c_str()); f.ok) out.push_back(f);
  }
  closedir(proc);
  return out;
}

double tree_seconds() {
  const std::vector<stat_fields> procs = all_processes();
  std::unordered_multimap<pid_t, const stat_fields*> children;
  const stat_fields* self = nullptr;
  for (const auto& p : procs) {
    children.emplace(p.ppid, &p);
    if (p.pid == getpid()) self = &p;
  }
  if (self == nullptr) return 0;
  std::uint64_t ticks = 0;
  std::vector<const stat_fields*> todo = {self};
  while (!todo.empty()) {
    const stat_fields* p = todo.back();
    todo.pop_back();
    ticks += p->ticks;
    const auto [from, to] = children.equal_range(p->pid);
    for (auto it = from; it != to; ++it) todo.push_back(it->second);
  }
  return static_cast<double>(ticks) / ticks_per_s();
}

}  // namespace

stat_fields parse_proc_stat(const char* line) {
  stat_fields f;
  const char* close = std::strrchr(line, ')');  // the command name may hold spaces and ')'
  if (close == nullptr) return f;
  f.pid = static_cast<pid_t>(std::atol(line));
  // After ") ": field 3 state, 4 ppid, ..., 14 utime, 15 stime, 16 cutime, 17 cstime.
  std::vector<unsigned long long> fields;
  const char* p = close + 2;
  for (int field = 3; field <= 17 && *p != '\0'; ++field) {
    while (*p == ' ') ++p;
    if (field == 3) {
      while (*p != ' ' && *p != '\0') ++p;  // the state letter
      continue;
    }
    char* end = nullptr;
    fields.push_back(std::strtoull(p, &end, 10));
    if (end == p) return f;
    p = end;
  }
  if (fields.size() != 14) return f;  // fields 4..17
  f.ppid = static_cast<pid_t>(fields[0]);
  f.ticks = fields[10] + fields[11] + fields[12] + fields[13];
  f.ok = true;
  return f;
}

cpu_sample sample_cpu() {
  cpu_sample s;
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::string line;
  if (read_line("/proc/stat", line)) {
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (std::sscanf(line.c_str(), "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle,
                    &iowait, &irq, &softirq, &steal) >= 8) {
      s.machine_busy_s = static_cast<double>(user + nice + system) / ticks_per_s();
      s.steal_s = static_cast<double>(steal) / ticks_per_s();
    }
  }
  s.tree_s = tree_seconds();
  return s;
}

other_load other_load_between(const cpu_sample& before, const cpu_sample& after, unsigned cores) {
  other_load o;
  const double wall = after.wall_s - before.wall_s;
  if (wall <= 0 || cores == 0) return o;
  // Tick rounding (up to one tick per process and field) can make the tree's share exceed the machine's.
  const double other_s = (after.machine_busy_s - before.machine_busy_s) - (after.tree_s - before.tree_s);
  o.other_busy_cores = std::max(0.0, other_s / wall);
  o.steal_fraction = std::max(0.0, (after.steal_s - before.steal_s) / (wall * cores));
  return o;
}

}  // namespace conpar::harness
