#include "harness/core/machine.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

namespace conpar::harness {
namespace {

std::string command_output(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

using clock = std::chrono::steady_clock;

// The fastest of `batches` timings of body(), in seconds: the minimum ignores a batch that was preempted.
template <class Body>
double best_batch_s(int batches, Body body) {
  double best = 1e300;
  for (int b = 0; b < batches; ++b) {
    const auto start = clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(clock::now() - start).count());
  }
  return best;
}

// Blocks until *word != seen (or a spurious wake-up: callers re-check).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void wait_for(std::atomic<std::uint32_t>& word, std::uint32_t wanted) {
  for (std::uint32_t seen = word.load(std::memory_order_acquire); seen != wanted;
       seen = word.load(std::memory_order_acquire))
    futex_wait(word, seen);
}

// The descriptors open in a process now: the entries of /proc/PID/fd (less the one reading it, for this one).
unsigned long long open_descriptors(pid_t pid = 0) {
  std::error_code ec;
  unsigned long long n = 0;
  const std::string dir = pid > 0 ? "/proc/" + std::to_string(pid) + "/fd" : "/proc/self/fd";
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return pid > 0 || n == 0 ? n : n - 1;
}

}  // namespace

descriptor_limit raise_descriptor_limit() noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return {lim.rlim_cur, lim.rlim_max};
}

std::string descriptor_shortfall(unsigned long long needed, pid_t server) {
  // Headroom for what a cell opens besides its connections: Asio's epoll and eventfd, a worker's pipe, the
  // results file at the end.
  constexpr unsigned long long k_reserve = 32;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return {};
  // What is open now, not a guess: earlier cells' connections that are still open count against the limit, here
  // and in the server (procs' workers hold theirs in their own processes, but the server holds the other end).
  const auto shortfall = [&](unsigned long long open_now, const std::string& where) -> std::string {
    if (open_now + needed + k_reserve <= lim.rlim_cur) return {};
    return std::to_string(needed) + " requests in flight need " + std::to_string(needed) +
           " more open descriptors (one connection each, plus " + std::to_string(k_reserve) + " spare), and " +
           std::to_string(open_now) + " are open in " + where + " now, but it may open " +
           std::to_string(lim.rlim_cur) + " (RLIMIT_NOFILE; hard limit " +
           (lim.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_max)) +
           "): raise the hard limit (ulimit -Hn as root, LimitNOFILE= in systemd, nofile in "
           "/etc/security/limits.conf) or lower --concurrency";
  };
  std::string why = shortfall(open_descriptors(), "this process (/proc/self/fd)");
  if (why.empty() && server > 0)
    why = shortfall(open_descriptors(server), "the tcp server (/proc/" + std::to_string(server) + "/fd)");
  return why;
}

unsigned available_cores() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

std::string kernel_release() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

std::array<double, 3> load_average() noexcept {
  std::array<double, 3> avg{-1, -1, -1};
  if (getloadavg(avg.data(), 3) != 3) avg = {-1, -1, -1};
  return avg;
}

std::string git_commit() {
  const std::string dir = CONPAR_SOURCE_DIR;
  std::string commit = command_output("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (commit.empty()) return "unknown";
  if (!command_output("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty())
    commit += "-dirty";
  return commit;
}

double memcpy_gb_per_s(std::size_t bytes) {
  const auto from = std::make_unique<char[]>(bytes);
  const auto to = std::make_unique<char[]>(bytes);
  std::memset(from.get(), 1, bytes);  // both touched first: page faults are not the copy's cost
  std::memset(to.get(), 2, bytes);
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const auto start = clock::now();
    std::memcpy(to.get(), from.get(), bytes);
    const double s = std::chrono::duration<double>(clock::now() - start).count();
    if (s > 0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  volatile char sink = to[bytes / 2];  // the copy has an observer, so it is not optimised away
  (void)sink;
  return best;
}

double syscall_ns() {
  constexpr int k_calls = 1'000;  // ~1 ms a batch at this VM's 1.1 µs a call
  const double s = best_batch_s(5, [] {
    for (int i = 0; i < k_calls; ++i) syscall(SYS_getppid);  // syscall(): no libc wrapper can cache it
  });
  return s * 1e9 / k_calls;
}

double futex_round_trip_us() {
  constexpr std::uint32_t k_round_trips = 100;  // ~0.7 ms a batch at this VM's 7 µs a round trip
  constexpr int k_batches = 7;
  // Both threads on the CPU this one runs on: left to the scheduler, the partner sometimes runs on the other
  // core (a cross-core wake-up, ~15 µs on the 2-core VM) and sometimes on this one (a switch, ~5 µs), so the
  // figure jumped 3x between runs and a baseline's calibration check could never match. The caller's
  // affinity is restored afterwards.
  cpu_set_t saved;
  const bool pinned = sched_getaffinity(0, sizeof saved, &saved) == 0 && sched_getcpu() >= 0;
  cpu_set_t one;
  CPU_ZERO(&one);
  if (pinned) {
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  // Odd: the partner's turn, even: ours. Each side blocks on the word until it is its turn.
  std::atomic<std::uint32_t> turn{0};
  constexpr std::uint32_t k_total = (k_batches * k_round_trips + 1) * 2;  // one warm-up round trip first
  std::thread partner([&] {
    if (pinned) sched_setaffinity(0, sizeof one, &one);  // 0: this thread
    for (std::uint32_t t = 1; t < k_total; t += 2) {
      wait_for(turn, t);
      turn.store(t + 1, std::memory_order_release);
      futex_wake(turn);
    }
  });
  std::uint32_t next = 1;
  const auto round_trip = [&] {
    turn.store(next, std::memory_order_release);
    futex_wake(turn);
    wait_for(turn, next + 1);
    next += 2;
  };
  round_trip();  // the partner has started and blocked once: its start-up is not a wake-up
  const double s = best_batch_s(k_batches, [&] {
    for (std::uint32_t i = 0; i < k_round_trips; ++i) round_trip();
  });
  partner.join();
  if (pinned) sched_setaffinity(0, sizeof saved, &saved);
  return s * 1e6 / k_round_trips;
}

}  // namespace conpar::harness
