// The process runner's failure paths: a killed worker is reported by name and signal, fork() is refused
// once other threads exist, and every worker is reaped.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/closed_loop.hpp"
#include "runners/process_pool.hpp"
#include "runners/registry.hpp"
#include "workloads/workload.hpp"

namespace {

using namespace conpar;
using namespace std::chrono_literals;

std::vector<pid_t> children_of_this_process() {
  std::vector<pid_t> out;
  std::ifstream in("/proc/self/task/" + std::to_string(::getpid()) + "/children");
  for (pid_t p; in >> p;) out.push_back(p);
  return out;
}

const workloads::calibration k_cal{20.0};

TEST(ProcessPool, KilledWorkerIsReportedByNameAndSignalThenReaped) {
  const auto spec = workloads::make_spec(*workloads::find_workload("sleep"), {{"wait_us", 2000}}, k_cal);
  {
    auto procs = runners::make_procs_runner();
    procs->prepare(2);
    const auto workers = children_of_this_process();
    ASSERT_EQ(workers.size(), 2u);
    {
      harness::closed_loop ok(spec, 1ms, 10ms, 2);
      const auto out = procs->run(ok, 2);
      EXPECT_EQ(out.stats.completed, ok.issued());
    }
    // Kill a worker while a long cell runs: the cell must fail fast with a message naming it, not hang.
    std::thread killer([&] {
      std::this_thread::sleep_for(50ms);
      ::kill(workers[1], SIGKILL);
    });
    harness::closed_loop doomed(spec, 1ms, 5s, 2);
    const auto start = std::chrono::steady_clock::now();
    try {
      (void)procs->run(doomed, 2);
      ADD_FAILURE() << "a cell whose worker was killed must fail";
    } catch (const runners::runner_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("worker 1"), std::string::npos) << what;
      EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
    }
    killer.join();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "detected within the liveness interval, not at the window's end";
    // The dead worker stays reported for later cells that need it; a cell that needs only the live one runs.
    harness::closed_loop later(spec, 1ms, 10ms, 2);
    EXPECT_THROW((void)procs->run(later, 2), runners::runner_error);
    harness::closed_loop survivor(spec, 1ms, 10ms, 1);
    const auto out = procs->run(survivor, 1);
    EXPECT_EQ(out.stats.completed, survivor.issued());
  }
  EXPECT_TRUE(children_of_this_process().empty()) << "the pool reaps every worker, dead or alive";
}

TEST(ProcessPool, ForkIsRefusedOnceOtherThreadsExist) {
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
  EXPECT_TRUE(children_of_this_process().empty());
}

}  // namespace
