#include "runners/process_pool.hpp"

#include <signal.h>
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

#include "workloads/blocking_steps.hpp"

namespace conpar::runners {
namespace {

using namespace std::chrono_literals;

// An idle worker wakes this often only to notice a vanished parent, which PR_SET_PDEATHSIG already
// covers: rarely, since 1,000 idle workers waking every second cost ~8% of a core in context switches
// and would disturb the cells that do not use them.
constexpr auto k_idle_check = 30s;

// The steady clock in ns: CLOCK_MONOTONIC is system-wide, so the parent reads the same instants.
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Open loop: sleeps until the job's due time if it is still ahead; returns when the request starts (ns).
std::int64_t start_when_due(const pool_control& c, std::uint32_t due_us) {
  const std::int64_t due_ns = c.epoch_ns.load(std::memory_order_relaxed) + (std::int64_t{due_us} - 1) * 1000;
  if (now_ns() < due_ns) {
    const timespec at{static_cast<time_t>(due_ns / 1'000'000'000), static_cast<long>(due_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {  // steady_clock's clock
    }
  }
  return now_ns();
}

// What a worker needs to know of itself and the pool.
struct worker_context {
  worker_slot* slots;  // every worker's: a pipeline stage hands its items on to the next worker's stage ring
  unsigned index;
  pool_control& control;
  std::atomic<std::uint64_t>& ready;
  std::uint64_t my_bit;
  pid_t parent;

  [[nodiscard]] worker_slot& self() const noexcept { return slots[index]; }
};

// Runs `body`; a throw becomes a failed result, with its message in the worker's error buffer.
template <class Body>
void run_guarded(worker_slot& s, result& res, Body body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    res.status = result_status::failed;
    std::strncpy(s.error, e.what(), sizeof s.error - 1);
  } catch (...) {
    res.status = result_status::failed;
    std::strncpy(s.error, "unknown exception", sizeof s.error - 1);
  }
}

// Pushes `res` to the worker's results ring and tells the dispatcher when `queued` (the jobs still waiting in the
// ring the job came from) passes the low-water mark and when it is 0 (the worker is about to wait): the dispatcher
// harvests everything when it wakes, so a ring per result below the mark would only add futex wakes (~15 us of
// CPU each in a VM) while the dispatcher waits for a core.
void answer(const worker_context& w, const result& res, std::size_t queued) {
  worker_slot& s = w.self();
  // The parent never has more jobs out than a ring holds, so a full results ring is momentary.
  while (!s.results.try_push(res)) {
    cpu_relax();
    if (getppid() != w.parent) _exit(0);
  }
  // release: the pushed result is visible to whoever clears this bit with an acquire exchange.
  w.ready.fetch_or(w.my_bit, std::memory_order_release);
  if (queued == 0 || queued == s.low_water.load(std::memory_order_relaxed)) w.control.result_bell.ring();
}

// One stage of a pipeline item: the first stage waits for an open loop's due time; the last answers the parent;
// the others hand the item on to the next worker. A stage that throws answers with the failure.
void run_stage_job(const worker_context& w, stage_job& sj, stage_clock& busy, std::uint64_t& done) {
  worker_slot& s = w.self();
  if (sj.stage == 0 && sj.open_loop)
    sj.item.started = harness::start_when_due(sj.item.r.due, harness::clock::now());  // one clock in every process
  result res{sj.item.r.req.id, 0, 0, 0, job_kind::run_stage, result_status::ok};
  run_guarded(s, res, [&] { run_stage_blocking(sj.item, sj.stage, busy, harness::clock::time_point::max()); });
  if (res.status == result_status::ok && sj.stage + 1 < sj.stages) {
    ++sj.stage;
    worker_slot& next = w.slots[w.index + 1];
    // Never full in practice: a pipeline holds at most concurrency <= k_ring_capacity items.
    while (!next.stage_jobs.try_push(sj)) {
      cpu_relax();
      if (getppid() != w.parent) _exit(0);
    }
    next.job_bell.ring();
    return;
  }
  if (res.status == result_status::ok) {
    ++done;
    res.checksum = sj.item.acc;
    if (sj.open_loop) res.started_ns = std::chrono::nanoseconds(sj.item.started.time_since_epoch()).count();
    res.done_ns = now_ns();
  }
  answer(w, res, s.stage_jobs.size_approx());
}

[[noreturn]] void worker_main(const worker_context& w) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Ctrl-C reaches the whole foreground process group: the parent decides how the run ends, and its
  // pool stops the workers. SIGTERM sent to a worker itself still ends it (the parent's handler is reset).
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  if (getppid() != w.parent) _exit(0);  // the parent died before the line above took effect
  worker_slot& s = w.self();
  job j;
  stage_job sj;
  stage_clock busy;        // time in pipeline stages
  std::uint64_t done = 0;  // requests this worker ran: its own count, against the dispatcher's
  for (;;) {
    if (!s.jobs.try_pop(j)) {
      if (s.stage_jobs.try_pop(sj)) {
        run_stage_job(w, sj, busy, done);
        continue;
      }
      const int spins = static_cast<int>(s.spins.load(std::memory_order_relaxed));
      const auto ready = [&] { return !s.jobs.empty_approx() || !s.stage_jobs.empty_approx(); };
      if (!spin_then_wait(s.job_bell, ready, spins, k_idle_check) && getppid() != w.parent) _exit(0);
      continue;
    }
    result res{j.req.id, 0, 0, 0, j.kind, result_status::ok};
    if (j.kind == job_kind::run_request) {
      ++done;
      if (j.due_us != 0) res.started_ns = start_when_due(w.control, j.due_us);
      run_guarded(s, res, [&] { res.checksum = workloads::execute_blocking(j.req); });
      res.done_ns = now_ns();
    } else {
      if (j.reset_peak) harness::reset_peak_rss();  // first: its page-table walk is not the cell's cost
      s.usage = harness::resource_usage::of_this_process();
      s.requests_done = done;
      s.stage_busy_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(busy.busy).count();
    }
    answer(w, res, s.jobs.size_approx());
  }
}

// The forkserver's SIGCHLD handler rings this bell: a signal handler can reach nothing else, and
// ring() is async-signal-safe (atomic operations and a futex syscall).
doorbell* g_server_bell = nullptr;

void on_child_exit(int) { g_server_bell->ring(); }

// How long the forkserver sleeps between checks that its parent lives (PR_SET_PDEATHSIG covers it too).
constexpr auto k_server_idle_check = 1s;

std::string describe_end(unsigned i, pid_t pid, int status) {
  std::string how = "worker " + std::to_string(i) + " (pid " + std::to_string(pid) + ") ";
  if (WIFSIGNALED(status))
    return how + "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return how + "exited with status " + std::to_string(WEXITSTATUS(status));
}

[[noreturn]] void forkserver_main(pool_control& c, worker_slot* slots, unsigned n, std::atomic<std::uint64_t>* ready,
                                  pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGINT, SIG_IGN);  // as the workers: the parent decides how a Ctrl-C ends the run
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
      worker_main({slots, i, c, ready[i / 64], std::uint64_t{1} << (i % 64), self});
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

}  // namespace

process_pool::process_pool(unsigned workers) : m_size(workers) {
  if (const int threads = harness::thread_count(); threads != 1)
    throw std::logic_error("procs: fork() refused: this process already runs " + std::to_string(threads) +
                           " threads, and fork() copies only the caller (oneTBB does not survive it); "
                           "the process pool must be started before any other runner");
  // Layout: the control block, the ready bits (rounded up to whole cache lines), then one slot per worker.
  const std::size_t words = (workers + 63) / 64;
  const std::size_t ready_bytes = (words * sizeof(std::uint64_t) + k_cache_line - 1) / k_cache_line * k_cache_line;
  const std::size_t control_bytes = (sizeof(pool_control) + k_cache_line - 1) / k_cache_line * k_cache_line;
  const std::size_t bytes = control_bytes + ready_bytes + sizeof(worker_slot) * workers;
  m_region = boost::interprocess::anonymous_shared_memory(bytes);
  auto* base = static_cast<std::byte*>(m_region.get_address());
  m_control = new (base) pool_control;
  m_ready = reinterpret_cast<std::atomic<std::uint64_t>*>(base + control_bytes);
  for (std::size_t i = 0; i < words; ++i) new (&m_ready[i]) std::atomic<std::uint64_t>(0);
  m_slots = reinterpret_cast<worker_slot*>(base + control_bytes + ready_bytes);
  for (unsigned i = 0; i < workers; ++i) new (&m_slots[i]) worker_slot;

  const pid_t parent = getpid();
  m_server = fork();
  if (m_server < 0)
    throw std::runtime_error(std::string("procs: fork() of the forkserver failed: ") + std::strerror(errno));
  if (m_server == 0) forkserver_main(*m_control, m_slots, workers, m_ready, parent);
  try {
    const auto deadline = std::chrono::steady_clock::now() + k_restart_limit + workers * 10ms;
    for (unsigned i = 0; i < workers; ++i) {
      wait_while_starting(i, deadline);
      if (auto death = death_of(i)) throw std::runtime_error("procs: " + *death);
    }
  } catch (...) {
    stop_all();
    throw;
  }
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
  if (m_server <= 0) return;
  // The forkserver kills and reaps its workers, then exits; SIGKILL only if it has not done so in time.
  m_control->quit.store(1, std::memory_order_release);
  m_control->server_bell.ring();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (waitpid(m_server, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      for (unsigned i = 0; i < m_size; ++i)
        if (m_slots[i].state.load(std::memory_order_acquire) == worker_state::alive) kill(pid(i), SIGKILL);
      kill(m_server, SIGKILL);
      while (waitpid(m_server, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  m_server = -1;
}

std::optional<std::string> process_pool::death_of(unsigned i) const {
  const worker_slot& s = m_slots[i];
  if (s.state.load(std::memory_order_acquire) != worker_state::dead) return std::nullopt;
  if (const int err = s.fork_errno.load(std::memory_order_relaxed))
    return "worker " + std::to_string(i) + " could not be started: fork() failed: " + std::strerror(err);
  return describe_end(i, s.pid.load(std::memory_order_relaxed), s.wait_status.load(std::memory_order_relaxed));
}

std::optional<std::string> process_pool::forkserver_death() {
  if (m_server_death || m_server <= 0) return m_server_death;
  int status = 0;
  if (waitpid(m_server, &status, WNOHANG) != m_server) return std::nullopt;
  m_server_death = "the pool's forkserver (pid " + std::to_string(m_server) + ") " +
                   (WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                              strsignal(WTERMSIG(status)) + ")"
                                        : "exited with status " + std::to_string(WEXITSTATUS(status))) +
                   "; its workers died with it";
  m_server = -1;  // reaped: nothing left to stop
  return m_server_death;
}

void process_pool::restart(unsigned i) {
  worker_slot& s = m_slots[i];
  if (s.state.load(std::memory_order_acquire) != worker_state::dead)
    throw std::logic_error("procs: restart of worker " + std::to_string(i) + ", which is not dead");
  if (auto death = forkserver_death()) throw std::runtime_error("procs: cannot restart worker " + std::to_string(i) + ": " + *death);
  // The old process is reaped, so nobody else touches these: the new worker starts on empty rings. (The stage
  // ring's producer is the worker before it in a pipeline: the procs runner stops every worker of a pipeline that
  // lost one before it restarts any.)
  s.jobs.reset();
  s.results.reset();
  s.stage_jobs.reset();
  s.error[0] = '\0';
  s.fork_errno.store(0, std::memory_order_relaxed);
  s.state.store(worker_state::starting, std::memory_order_relaxed);
  s.restart.store(1, std::memory_order_release);
  m_control->server_bell.ring();
  wait_while_starting(i, std::chrono::steady_clock::now() + k_restart_limit);
  if (auto death = death_of(i)) throw std::runtime_error("procs: restart failed: " + *death);
}

}  // namespace conpar::runners
