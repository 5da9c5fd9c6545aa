#include "runners/process_pool.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <chrono>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

using namespace std::chrono_literals;

// An idle worker wakes this often only to notice a vanished parent, which PR_SET_PDEATHSIG already
// covers: rarely, since 1,000 idle workers waking every second cost ~8% of a core in context switches
// and would disturb the cells that do not use them.
constexpr auto k_idle_check = 30s;

[[noreturn]] void worker_main(worker_slot& s, doorbell& result_bell, std::atomic<std::uint64_t>& ready,
                             std::uint64_t my_bit, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Ctrl-C reaches the whole foreground process group: the parent decides how the run ends, and its
  // pool stops the workers. SIGTERM sent to a worker itself still ends it (the parent's handler is reset).
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  if (getppid() != parent) _exit(0);  // the parent died before the line above took effect
  job j;
  for (;;) {
    if (!s.jobs.try_pop(j)) {
      const int spins = static_cast<int>(s.spins.load(std::memory_order_relaxed));
      if (!spin_then_wait(s.job_bell, [&] { return !s.jobs.empty_approx(); }, spins, k_idle_check) &&
          getppid() != parent)
        _exit(0);
      continue;
    }
    result res{j.req.id, 0, j.kind, result_status::ok};
    if (j.kind == job_kind::run_request) {
      try {
        res.checksum = workloads::execute_blocking(j.req);
      } catch (const std::exception& e) {
        res.status = result_status::failed;
        std::strncpy(s.error, e.what(), sizeof s.error - 1);
      } catch (...) {
        res.status = result_status::failed;
        std::strncpy(s.error, "unknown exception", sizeof s.error - 1);
      }
    } else {
      if (j.reset_peak) harness::reset_peak_rss();  // first: its page-table walk is not the cell's cost
      s.usage = harness::resource_usage::of_this_process();
    }
    // The parent never has more jobs out than a ring holds, so a full results ring is momentary.
    while (!s.results.try_push(res)) {
      cpu_relax();
      if (getppid() != parent) _exit(0);
    }
    // release: the pushed result is visible to whoever clears this bit with an acquire exchange.
    ready.fetch_or(my_bit, std::memory_order_release);
    if (s.jobs.size_approx() <= s.low_water.load(std::memory_order_relaxed)) result_bell.ring();
  }
}

}  // namespace

process_pool::process_pool(unsigned workers) {
  if (const int threads = harness::thread_count(); threads != 1)
    throw std::logic_error("procs: fork() refused: this process already runs " + std::to_string(threads) +
                           " threads, and fork() copies only the caller (oneTBB does not survive it); "
                           "the process pool must be started before any other runner");
  // Layout: the result doorbell, the ready bits (rounded up to whole cache lines), then one slot per worker.
  const std::size_t words = (workers + 63) / 64;
  const std::size_t ready_bytes = (words * sizeof(std::uint64_t) + k_cache_line - 1) / k_cache_line * k_cache_line;
  const std::size_t bytes = sizeof(doorbell) + ready_bytes + sizeof(worker_slot) * workers;
  m_region = boost::interprocess::anonymous_shared_memory(bytes);
  auto* base = static_cast<std::byte*>(m_region.get_address());
  m_result_bell = new (base) doorbell;
  m_ready = reinterpret_cast<std::atomic<std::uint64_t>*>(base + sizeof(doorbell));
  for (std::size_t i = 0; i < words; ++i) new (&m_ready[i]) std::atomic<std::uint64_t>(0);
  m_slots = reinterpret_cast<worker_slot*>(base + sizeof(doorbell) + ready_bytes);
  for (unsigned i = 0; i < workers; ++i) new (&m_slots[i]) worker_slot;
  const pid_t parent = getpid();
  m_pids.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      stop_all();  // reap the ones already started
      throw std::runtime_error("procs: fork() of worker " + std::to_string(i) + " failed: " + std::strerror(err));
    }
    if (pid == 0) worker_main(m_slots[i], *m_result_bell, m_ready[i / 64], std::uint64_t{1} << (i % 64), parent);
    m_pids.push_back(pid);
  }
  m_deaths.resize(workers);
}

process_pool::~process_pool() { stop_all(); }

void process_pool::stop_all() noexcept {
  // Workers hold no state worth saving; SIGKILL cannot be caught or delayed, then every one is reaped.
  for (std::size_t i = 0; i < m_pids.size(); ++i)
    if (m_deaths.size() <= i || m_deaths[i].empty()) kill(m_pids[i], SIGKILL);
  for (std::size_t i = 0; i < m_pids.size(); ++i)
    if (m_deaths.size() <= i || m_deaths[i].empty())
      while (waitpid(m_pids[i], nullptr, 0) < 0 && errno == EINTR) {
      }
  m_pids.clear();
}

std::optional<std::string> process_pool::death_of(unsigned i) {
  if (!m_deaths[i].empty()) return m_deaths[i];
  int status = 0;
  if (waitpid(m_pids[i], &status, WNOHANG) != m_pids[i]) return std::nullopt;
  std::string how = "worker " + std::to_string(i) + " (pid " + std::to_string(m_pids[i]) + ") ";
  if (WIFSIGNALED(status))
    how += "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  else
    how += "exited with status " + std::to_string(WEXITSTATUS(status));
  m_deaths[i] = how;
  return how;
}

}  // namespace conpar::runners
