// The process runner's failure paths: a killed worker is seen at once, named with its signal, replaced,
// and its queued requests are accounted for; a killed pipeline stage fails its cell and the next cell runs on fresh
// workers; fork() is refused once other threads exist; nothing is left.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness/core/load_driver.hpp"
#include "runners/process_pool.hpp"
#include "runners/registry.hpp"
#include "tests/support/leak_check.hpp"
#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

namespace {

using namespace conpar;
using namespace std::chrono_literals;
using test_support::children_of;

const workloads::calibration k_cal{20.0};

std::vector<pid_t> workers_of_this_process() { return test_support::pool_workers_of(::getpid()); }

// SIGKILLs `victim` 50 ms from now while the caller runs a cell, from a forked child that the destructor reaps. A
// child, not a thread: under TSan the runtime's own thread stays once a thread has existed, and no later test could
// start a pool (fork() is refused in a multi-threaded process).
class kill_soon {
 public:
  explicit kill_soon(pid_t victim) : m_pid(::fork()) {
    if (m_pid == 0) {
      std::this_thread::sleep_for(50ms);
      ::kill(victim, SIGKILL);
      ::_exit(0);
    }
  }
  ~kill_soon() {
    int status = 0;
    while (m_pid > 0 && ::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  kill_soon(const kill_soon&) = delete;
  kill_soon& operator=(const kill_soon&) = delete;

 private:
  pid_t m_pid;
};

TEST(ProcessPool, DeathIsSeenAtOnceAndRestartGivesAFreshWorker) {
  const test_support::leak_check leaks;
  {
    runners::process_pool pool(2);
    const pid_t victim = pool.pid(1);
    ASSERT_EQ(workers_of_this_process().size(), 2u);
    EXPECT_FALSE(pool.death_of(1));
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    // The forkserver reaps on SIGCHLD and publishes the death; stated bound: 1 s (its idle check). Poll the
    // count, as the runner does: the forkserver marks the slot dead before it bumps the count, so a slot seen
    // dead may not be counted yet, but a death counted is always visible in its slot.
    while (pool.deaths() == 0) {
      ASSERT_LT(std::chrono::steady_clock::now() - killed_at, 1s) << "death not seen within the stated bound";
      std::this_thread::sleep_for(100us);
    }
    const auto seen_after = std::chrono::steady_clock::now() - killed_at;
    ASSERT_TRUE(pool.death_of(1)) << "a counted death is visible in its slot";
    const std::string what = *pool.death_of(1);
    EXPECT_NE(what.find("worker 1"), std::string::npos) << what;
    EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
    EXPECT_EQ(pool.deaths(), 1u);
    EXPECT_FALSE(pool.death_of(0));
    std::cout << "death seen after " << std::chrono::duration<double, std::micro>(seen_after).count() << " us\n";

    pool.restart(1);
    EXPECT_FALSE(pool.death_of(1));
    EXPECT_NE(pool.pid(1), victim);
    EXPECT_EQ(workers_of_this_process().size(), 2u);
    EXPECT_THROW(pool.restart(0), std::logic_error) << "only a dead worker is restarted";
  }
  EXPECT_EQ(leaks.leftovers(), "");
}

TEST(ProcessPool, KilledWorkerMidCellIsNamedReplacedAndItsRequestsAccountedFor) {
  const test_support::leak_check leaks;
  const auto spec = workloads::make_spec(*workloads::find_workload("sleep"), {{"wait_us", 2000}}, k_cal);
  {
    auto procs = runners::make_procs_runner();
    procs->prepare(2);
    const auto workers = workers_of_this_process();
    ASSERT_EQ(workers.size(), 2u);
    // Kill a worker while a cell runs: the cell goes on with a fresh worker and reports the death.
    std::optional<kill_soon> killer(std::in_place, workers[1]);
    harness::load_driver doomed(spec, 1ms, 300ms, 8);
    const auto out = procs->run(doomed, 2);
    killer.reset();  // reaped: the children of this process are the forkservers again
    ASSERT_EQ(out.faults.size(), 1u);
    EXPECT_NE(out.faults[0].find("worker 1"), std::string::npos) << out.faults[0];
    EXPECT_NE(out.faults[0].find("signal 9"), std::string::npos) << out.faults[0];
    EXPECT_EQ(out.stats.completed + out.lost.size(), doomed.issued()) << "every request completed or lost, once";
    EXPECT_LE(out.lost.size(), 4u) << "at most the dead worker's share of the 8 in flight";
    // Read from the dead worker's lane record in shared memory: each id once, and only ids that were issued.
    const std::set<std::uint64_t> lost(out.lost.begin(), out.lost.end());
    EXPECT_EQ(lost.size(), out.lost.size()) << "no id reported lost twice";
    EXPECT_TRUE(lost.empty() || *lost.rbegin() < doomed.issued());
    std::uint64_t expected = 0;
    for (std::uint64_t id = 0; id < doomed.issued(); ++id) expected += workloads::expected_checksum(spec.make(id));
    for (const auto id : out.lost) expected -= workloads::expected_checksum(spec.make(id));
    EXPECT_EQ(out.stats.checksum_fold, expected);
    EXPECT_GT(out.stats.measured, 0u) << "the cell went on after the death";

    // The replacement serves the next cell like any worker.
    harness::load_driver later(spec, 1ms, 20ms, 2);
    const auto next = procs->run(later, 2);
    EXPECT_TRUE(next.faults.empty());
    EXPECT_EQ(next.stats.completed, later.issued());
    const auto now_workers = workers_of_this_process();
    ASSERT_EQ(now_workers.size(), 2u);
    EXPECT_NE(now_workers, workers);
  }
  EXPECT_EQ(leaks.leftovers(), "") << "the pool reaps every worker, dead or alive";
}

TEST(ProcessPool, KilledStageWorkerFailsThePipelineCellAndTheNextCellRuns) {
  const test_support::leak_check leaks;
  const auto spec = workloads::make_spec(*workloads::find_workload("pipeline"), {}, k_cal);
  {
    auto procs = runners::make_procs_runner();
    procs->prepare(3);
    const auto workers = workers_of_this_process();
    ASSERT_EQ(workers.size(), 3u);
    // Kill the transform stage's worker mid-cell: items are spread over the three stages' rings.
    std::optional<kill_soon> killer(std::in_place, workers[1]);
    harness::load_driver doomed(spec, 1ms, 300ms, 16);
    try {
      (void)procs->run(doomed, 3);
      ADD_FAILURE() << "a pipeline that lost a stage must fail its cell";
    } catch (const runners::runner_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("worker 1"), std::string::npos) << what;
      EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
      EXPECT_NE(what.find("stopped the pipeline's 3 worker processes"), std::string::npos) << what;
    }
    killer.reset();  // reaped: the children of this process are the forkservers again

    // The next cell, a pipeline again, runs on three fresh workers and validates.
    harness::load_driver later(spec, 1ms, 30ms, 16);
    const auto next = procs->run(later, 3);
    EXPECT_TRUE(next.faults.empty());
    ASSERT_GT(later.issued(), 0u);
    EXPECT_EQ(next.stats.completed, later.issued());
    std::uint64_t expected = 0;
    for (std::uint64_t id = 0; id < later.issued(); ++id) expected += workloads::expected_checksum(spec.make(id));
    EXPECT_EQ(next.stats.checksum_fold, expected);
    ASSERT_EQ(next.stage_busy_s.size(), 3u);
    const auto now_workers = workers_of_this_process();
    ASSERT_EQ(now_workers.size(), 3u);
    for (const pid_t old : workers)
      EXPECT_EQ(std::count(now_workers.begin(), now_workers.end(), old), 0) << "every stage's worker was replaced";

    // And a plain cell after it: the stage rings hold nothing that could pass for its results.
    const auto cpu = workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", 5}}, k_cal);
    harness::load_driver plain(cpu, 1ms, 20ms, 6);
    const auto after = procs->run(plain, 3);
    EXPECT_EQ(after.stats.completed, plain.issued());
  }
  EXPECT_EQ(leaks.leftovers(), "") << "the killed pipeline's workers were reaped, the fresh ones too";
}

TEST(ProcessPool, AKilledForkserverIsReplacedByAStandbyAndLaterCellsRun) {
  const test_support::leak_check leaks;
  const auto spec = workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", 5}}, k_cal);
  {
    auto procs = runners::make_procs_runner();
    procs->prepare(2);
    const auto workers = workers_of_this_process();
    ASSERT_EQ(workers.size(), 2u);
    const auto servers = children_of(::getpid());
    ASSERT_EQ(servers.size(), 1 + runners::k_standby_forkservers) << "the forkserver and its standbys";
    pid_t server = 0;
    for (const pid_t p : servers)
      if (!children_of(p).empty()) server = p;
    ASSERT_NE(server, 0);
    // Each kill costs the cell it lands in, or none; every later cell runs on a standby's fresh workers.
    for (unsigned death = 0; death < runners::k_standby_forkservers; ++death) {
      const auto before = workers_of_this_process();
      ASSERT_EQ(before.size(), 2u);
      pid_t active = 0;
      for (const pid_t p : children_of(::getpid()))
        if (!children_of(p).empty()) active = p;
      ASSERT_EQ(::kill(active, SIGKILL), 0);
      std::this_thread::sleep_for(50ms);  // dead, and its workers with it (their parent-death signal)
      try {
        harness::load_driver cut(spec, 1ms, 20ms, 4);
        (void)procs->run(cut, 2);
      } catch (const runners::runner_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("forkserver"), std::string::npos) << what;
        EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
        EXPECT_NE(what.find("took over"), std::string::npos) << what;
      }
      harness::load_driver later(spec, 1ms, 20ms, 4);
      const auto out = procs->run(later, 2);
      EXPECT_TRUE(out.faults.empty());
      ASSERT_GT(later.issued(), 0u);
      EXPECT_EQ(out.stats.completed, later.issued()) << "the cell after a forkserver death validates";
      const auto now = workers_of_this_process();
      ASSERT_EQ(now.size(), 2u);
      for (const pid_t old : before) EXPECT_EQ(std::count(now.begin(), now.end(), old), 0) << "fresh workers";
    }
    // With no standby left, the pool says so instead of blaming an earlier cell.
    for (const pid_t p : children_of(::getpid()))
      if (!children_of(p).empty()) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(50ms);
    harness::load_driver last(spec, 1ms, 20ms, 4);
    try {
      (void)procs->run(last, 2);
      ADD_FAILURE() << "no forkserver is left";
    } catch (const runners::runner_error& e) {
      EXPECT_NE(std::string(e.what()).find("no standby forkserver is left"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(leaks.leftovers(), "") << "every forkserver, standby and worker was reaped";
}

TEST(ProcessPool, ForkIsRefusedOnceOtherThreadsExist) {
  const test_support::leak_check leaks;
  std::atomic<bool> stop{false};
  std::thread other([&] {
    while (!stop) std::this_thread::sleep_for(1ms);
  });
  try {
    runners::process_pool pool(1);
    ADD_FAILURE() << "fork() with two threads must be refused";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("fork() refused"), std::string::npos) << e.what();
  }
  stop = true;
  other.join();
  EXPECT_EQ(leaks.leftovers(), "");
}

}  // namespace
