// What a test of processes may leave behind and must not: live or zombie descendants, new /dev/shm entries.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace conpar::test_support {

// The direct children of process `pid`, whichever of its threads forked them.
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t p; in >> p;) out.push_back(p);
  }
  return out;
}

// The procs pool's workers under process `pid`: the children of its forkserver, the one child of `pid` that has
// children (the standby forkservers beside it have none until one takes over; the tcp server has none).
inline std::vector<pid_t> pool_workers_of(pid_t pid) {
  for (const pid_t child : children_of(pid))
    if (auto workers = children_of(child); !workers.empty()) return workers;
  return {};
}

// Every process below `pid`, depth first.
inline std::vector<pid_t> descendants_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const pid_t child : children_of(pid)) {
    out.push_back(child);
    for (const pid_t d : descendants_of(child)) out.push_back(d);
  }
  return out;
}

inline std::set<std::string> shm_entries() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) out.insert(e.path().filename().string());
  return out;
}

// Construct it before the code under test starts processes; ask leftovers() after it has ended them.
// It makes this process a child subreaper, so an orphan of the code under test (a worker whose parent
// died) is re-parented here instead of escaping to init, and shows up as ours.
class leak_check {
 public:
  leak_check() : m_shm_before(shm_entries()) { prctl(PR_SET_CHILD_SUBREAPER, 1); }

  // Reaps what came back and waits up to `grace` for the rest to end. "" when no process is below this one
  // (alive or zombie) and /dev/shm holds no entry it did not hold at construction; otherwise what is left.
  std::string leftovers(std::chrono::milliseconds grace = std::chrono::seconds(5)) const {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (;;) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      const auto procs = descendants_of(getpid());
      std::vector<std::string> new_shm;
      for (const auto& e : shm_entries())
        if (!m_shm_before.count(e)) new_shm.push_back(e);
      if (procs.empty() && new_shm.empty()) return "";
      if (std::chrono::steady_clock::now() > deadline) {
        std::string what = std::to_string(procs.size()) + " processes left:";
        for (const pid_t p : procs) what += " " + std::to_string(p) + "(" + state_of(p) + ")";
        what += "; " + std::to_string(new_shm.size()) + " new /dev/shm entries:";
        for (const auto& e : new_shm) what += " " + e;
        return what;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  static std::string state_of(pid_t pid) {  // "Z" for a zombie, "S" sleeping, ...
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? "?" : stat.substr(close + 2, 1);
  }

  std::set<std::string> m_shm_before;
};

}  // namespace conpar::test_support
