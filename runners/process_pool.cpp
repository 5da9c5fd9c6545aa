#include "runners/process_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>
#include <exception>
#include <new>
#include <stdexcept>

namespace conpar::runners {
namespace {

using namespace std::chrono_literals;

// The forkserver's SIGCHLD handler rings this bell: a signal handler can reach nothing else, and
// ring() is async-signal-safe (atomic operations and a futex syscall).
doorbell* g_server_bell = nullptr;

void on_child_exit(int) { g_server_bell->ring(); }

// How long the forkserver sleeps between checks that its parent lives (PR_SET_PDEATHSIG covers it too).
constexpr auto k_server_idle_check = 1s;

// "was killed by signal 9 (Killed)" or "exited with status 1": how a waitpid() status ended a process.
std::string how_it_ended(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

[[noreturn]] void forkserver_main(pool_control& c, worker_slot* slots, worker_lane* lanes, unsigned n, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGINT, SIG_IGN);  // as the workers: the parent decides how a Ctrl-C or a hang-up ends the run
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  if (getppid() != parent) _exit(0);
  g_server_bell = &c.server_bell;
  struct sigaction sa {};
  sa.sa_handler = on_child_exit;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, nullptr);
  const pid_t self = getpid();

  const auto start = [&](unsigned i) {
    const pid_t pid = fork();
    if (pid == 0) {
      signal(SIGCHLD, SIG_DFL);
      worker_main({c, slots, lanes[i], i, self});
    }
    if (pid < 0) {
      slots[i].fork_errno.store(errno, std::memory_order_relaxed);
      slots[i].state.store(worker_state::dead, std::memory_order_release);
    } else {
      slots[i].pid.store(pid, std::memory_order_relaxed);
      slots[i].state.store(worker_state::alive, std::memory_order_release);
    }
    c.result_bell.ring();
  };
  const auto reap_all_and_exit = [&] {
    for (unsigned i = 0; i < n; ++i)
      if (slots[i].state.load(std::memory_order_acquire) == worker_state::alive) kill(slots[i].pid, SIGKILL);
    for (;;)
      if (waitpid(-1, nullptr, 0) < 0 && errno != EINTR) _exit(0);  // ECHILD: every worker is reaped
  };

  for (unsigned i = 0; i < n; ++i) start(i);
  for (;;) {
    const std::uint32_t seen = c.server_bell.prepare();
    int status = 0;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;)
      for (unsigned i = 0; i < n; ++i)
        if (slots[i].pid.load(std::memory_order_relaxed) == pid) {
          slots[i].wait_status.store(status, std::memory_order_relaxed);
          slots[i].state.store(worker_state::dead, std::memory_order_release);
          c.deaths.fetch_add(1, std::memory_order_release);
          c.result_bell.ring();
          break;
        }
    if (c.quit.load(std::memory_order_acquire) != 0 || getppid() != parent) reap_all_and_exit();
    for (unsigned i = 0; i < n; ++i)
      if (slots[i].restart.exchange(0, std::memory_order_acq_rel) != 0) start(i);
    c.server_bell.wait(seen, k_server_idle_check);
  }
}

// A standby forkserver: asleep until the parent names it (takeover == k + 1), then the forkserver.
[[noreturn]] void standby_main(pool_control& c, worker_slot* slots, worker_lane* lanes, unsigned n, pid_t parent,
                               unsigned k) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  for (;;) {
    const std::uint32_t seen = c.standby_bell.prepare();
    if (c.quit.load(std::memory_order_acquire) != 0 || getppid() != parent) _exit(0);
    if (c.takeover.load(std::memory_order_acquire) == k + 1) forkserver_main(c, slots, lanes, n, parent);
    c.standby_bell.wait(seen, k_server_idle_check);
  }
}

}  // namespace

process_pool::process_pool(unsigned workers) : m_size(workers) {
  if (const int threads = harness::thread_count(); threads != 1)
    throw std::logic_error("procs: fork() refused: this process already runs " + std::to_string(threads) +
                           " threads, and fork() copies only the caller (oneTBB does not survive it); "
                           "the process pool must be started before any other runner");
  // Layout: the control block, the slots, the open-loop schedule, then the lanes, each on whole pages. The schedule
  // and the lanes are not written here: the mapping comes zero-filled, and only what a cell uses becomes resident.
  const auto pages = [](std::size_t bytes) { return (bytes + 4095) / 4096 * 4096; };
  const std::size_t control_bytes = pages(sizeof(pool_control));
  const std::size_t slot_bytes = pages(sizeof(worker_slot) * workers);
  const std::size_t schedule_bytes = pages(sizeof(harness::clock::duration) * k_max_schedule);
  m_region = boost::interprocess::anonymous_shared_memory(control_bytes + slot_bytes + schedule_bytes +
                                                          sizeof(worker_lane) * workers);
  auto* base = static_cast<std::byte*>(m_region.get_address());
  m_control = new (base) pool_control;
  m_slots = reinterpret_cast<worker_slot*>(base + control_bytes);
  for (unsigned i = 0; i < workers; ++i) new (&m_slots[i]) worker_slot;
  m_schedule = reinterpret_cast<harness::clock::duration*>(base + control_bytes + slot_bytes);
  m_lanes = reinterpret_cast<worker_lane*>(base + control_bytes + slot_bytes + schedule_bytes);

  const pid_t parent = getpid();
  m_server = fork();
  if (m_server < 0)
    throw std::runtime_error(std::string("procs: fork() of the forkserver failed: ") + std::strerror(errno));
  if (m_server == 0) forkserver_main(*m_control, m_slots, m_lanes, workers, parent);
  try {
    for (unsigned k = 0; k < k_standby_forkservers; ++k) {
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("procs: fork() of a standby forkserver failed: ") + std::strerror(errno));
      if (pid == 0) standby_main(*m_control, m_slots, m_lanes, workers, parent, k);
      m_standbys.push_back(pid);
    }
    wait_for_workers();
  } catch (...) {
    stop_all();
    throw;
  }
}

void process_pool::wait_for_workers() {
  const auto deadline = std::chrono::steady_clock::now() + k_restart_limit + m_size * 10ms;
  for (unsigned i = 0; i < m_size; ++i) {
    wait_while_starting(i, deadline);
    if (auto death = death_of(i)) throw std::runtime_error("procs: " + *death);
  }
}

void process_pool::take_over() {
  // The dead forkserver's workers die with it (their parent-death signal) and cannot touch the slots any more.
  // Each slot starts afresh, done with the cell that was running: the new workers wait for the next one.
  const std::uint32_t gen = m_control->cell.gen.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < m_size; ++i) {
    worker_slot& s = m_slots[i];
    s.stage_jobs.reset();
    s.error[0] = '\0';
    s.ready_gen.store(gen, std::memory_order_relaxed);
    s.done_gen.store(gen, std::memory_order_relaxed);
    s.restart.store(0, std::memory_order_relaxed);
    s.fork_errno.store(0, std::memory_order_relaxed);
    s.state.store(worker_state::starting, std::memory_order_relaxed);
  }
  m_server = m_standbys.front();
  m_standbys.erase(m_standbys.begin());
  m_control->takeover.fetch_add(1, std::memory_order_release);  // standby k takes over when takeover == k + 1
  m_control->standby_bell.ring();
  wait_for_workers();
}

process_pool::~process_pool() { stop_all(); }

void process_pool::wait_while_starting(unsigned i, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const std::uint32_t seen = m_control->result_bell.prepare();
    if (m_slots[i].state.load(std::memory_order_acquire) != worker_state::starting) return;
    if (auto death = forkserver_death()) throw std::runtime_error("procs: " + *death);
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("procs: worker " + std::to_string(i) + " did not start within the time limit");
    m_control->result_bell.wait(seen, 10ms);
  }
}

void process_pool::stop_all() noexcept {
  // The forkserver kills and reaps its workers, then exits, as the standbys do; SIGKILL only if one has not done
  // so in time.
  m_control->quit.store(1, std::memory_order_release);
  m_control->server_bell.ring();
  m_control->standby_bell.ring();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<pid_t> left = m_standbys;
  if (m_server > 0) left.push_back(m_server);
  for (const pid_t p : left) {
    int status = 0;
    while (waitpid(p, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        if (p == m_server)
          for (unsigned i = 0; i < m_size; ++i)
            if (m_slots[i].state.load(std::memory_order_acquire) == worker_state::alive) kill(pid(i), SIGKILL);
        kill(p, SIGKILL);
        while (waitpid(p, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
  }
  m_server = -1;
  m_standbys.clear();
}

void process_pool::release_lane(unsigned i) noexcept {
  // MADV_DONTNEED on a shared mapping only unmaps the pages here; the next access maps them again, contents intact.
  (void)::madvise(&m_lanes[i], sizeof(worker_lane), MADV_DONTNEED);
}

std::optional<std::string> process_pool::death_of(unsigned i) const {
  const worker_slot& s = m_slots[i];
  if (s.state.load(std::memory_order_acquire) != worker_state::dead) return std::nullopt;
  if (const int err = s.fork_errno.load(std::memory_order_relaxed))
    return "worker " + std::to_string(i) + " could not be started: fork() failed: " + std::strerror(err);
  return "worker " + std::to_string(i) + " (pid " + std::to_string(s.pid.load(std::memory_order_relaxed)) + ") " +
         how_it_ended(s.wait_status.load(std::memory_order_relaxed));
}

std::optional<std::string> process_pool::forkserver_death() {
  if (m_server_death || m_server <= 0) return m_server_death;
  int status = 0;
  if (waitpid(m_server, &status, WNOHANG) != m_server) return std::nullopt;
  std::string death = "the pool's forkserver (pid " + std::to_string(m_server) + ") " + how_it_ended(status) +
                      "; its workers died with it";
  m_server = -1;  // reaped: nothing left to stop
  if (m_standbys.empty()) {
    m_server_death = death + "; no standby forkserver is left, so no worker can be started";
    return m_server_death;
  }
  const pid_t next = m_standbys.front();
  take_over();
  return death + "; standby forkserver (pid " + std::to_string(next) + ") took over and started " +
         std::to_string(m_size) + " fresh workers";
}

void process_pool::restart(unsigned i, bool join_cell) {
  worker_slot& s = m_slots[i];
  if (s.state.load(std::memory_order_acquire) != worker_state::dead)
    throw std::logic_error("procs: restart of worker " + std::to_string(i) + ", which is not dead");
  if (auto death = forkserver_death()) throw std::runtime_error("procs: cannot restart worker " + std::to_string(i) + ": " + *death);
  // The old process is reaped, so nobody else touches these: the new worker starts on an empty ring. (The stage
  // ring's producer is the worker before it in a pipeline: the procs runner stops every worker of a pipeline that
  // lost one before it restarts any.) The slot's last cell is the one running now, or the one before it for a
  // worker that joins it: the worker starts from ready_gen (process_worker.cpp).
  s.stage_jobs.reset();
  const std::uint32_t last = m_control->cell.gen.load(std::memory_order_relaxed) - (join_cell ? 1 : 0);
  s.ready_gen.store(last, std::memory_order_relaxed);
  s.done_gen.store(last, std::memory_order_relaxed);
  s.error[0] = '\0';
  s.fork_errno.store(0, std::memory_order_relaxed);
  s.state.store(worker_state::starting, std::memory_order_relaxed);
  s.restart.store(1, std::memory_order_release);
  m_control->server_bell.ring();
  wait_while_starting(i, std::chrono::steady_clock::now() + k_restart_limit);
  if (auto death = death_of(i)) throw std::runtime_error("procs: restart failed: " + *death);
}

}  // namespace conpar::runners
