// SIGINT, SIGTERM, SIGHUP or a closed stdout (SIGPIPE) in the middle of a run: exit 128 + signal, the results
// written so far are valid JSON, no worker process and no shared-memory entry is left behind
// (tests/support/leak_check.hpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "runners/process_pool.hpp"
#include "tests/support/conpar_process.hpp"
#include "tests/support/leak_check.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using conpar::test_support::start_conpar;

// A long suite of process cells: each repetition runs 0.5 s, so a signal lands mid-run.
std::vector<std::string> long_run(const fs::path& out) {
  return {"run", "--workload", "sleep,cpu", "--runner", "procs,coro", "--concurrency", "10",
          "--duration", "0.5", "--warmup", "0.05", "--repetitions", "2", "--out", out};
}

// What a run ended by a signal leaves: complete, valid JSON with the cells finished before it measured and the
// cut ones marked.
void expect_results_of_an_interrupted_run(const fs::path& out) {
  const auto doc = nlohmann::json::parse(std::ifstream(out));  // complete, valid JSON
  int measured = 0, interrupted = 0;
  for (const auto& b : doc["benchmarks"]) {
    if (b["run_type"] != "iteration") continue;
    if (b.value("error_occurred", false))
      interrupted += b["error_message"].get<std::string>().find("interrupted") != std::string::npos;
    else
      measured += b["validated"] == 1;
  }
  EXPECT_GT(measured, 0) << "cells finished before the signal are kept";
  EXPECT_GT(interrupted, 0) << "the cell cut short and the cells after it say so";
}

void interrupt_mid_run(int sig, int expected_code, int times = 1) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = fs::temp_directory_path() / ("conpar_int_" + std::to_string(::getpid()) + ".json");
  const pid_t pid = start_conpar(long_run(out), "/dev/null");
  ASSERT_GE(pid, 0);
  std::this_thread::sleep_for(2500ms);  // past calibration and the first cells
  for (int i = 0; i < times; ++i) {
    ASSERT_EQ(::kill(pid, sig), 0);
    std::this_thread::sleep_for(50ms);  // the second one lands while the first is being handled
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "conpar did not stop after the signal";
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WIFEXITED(status)) << "conpar must exit, not die by the signal";
  EXPECT_EQ(WEXITSTATUS(status), expected_code);
  expect_results_of_an_interrupted_run(out);
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "worker processes or shared memory outlived the run";
}

TEST(Interrupt, SigintKeepsResultsAndExits130) { interrupt_mid_run(SIGINT, 130); }
TEST(Interrupt, SecondSigintChangesNothing) { interrupt_mid_run(SIGINT, 130, 2); }
TEST(Interrupt, SigtermKeepsResultsAndExits143) { interrupt_mid_run(SIGTERM, 143); }
// Issue 16 #3: an ssh hang-up killed the run, and its results with it.
TEST(Interrupt, SighupKeepsResultsAndExits129) { interrupt_mid_run(SIGHUP, 129); }

// Issue 16 #3: `conpar run ... | head -1` died of SIGPIPE at the first line after head's, leaving no results
// file. Now the broken pipe ends the run as SIGTERM does, and the writes to the gone stdout harm nothing.
TEST(Interrupt, AClosedStdoutKeepsResultsAndExits141) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = fs::temp_directory_path() / ("conpar_pipe_" + std::to_string(::getpid()) + ".json");
  std::string cmd = CONPAR_BINARY;
  for (const auto& a : long_run(out)) cmd += " " + a;
  // bash for PIPESTATUS: conpar's own exit code, not head's.
  const int status = std::system(("bash -c '" + cmd + " 2>/dev/null | head -1 >/dev/null; exit ${PIPESTATUS[0]}'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGPIPE);
  expect_results_of_an_interrupted_run(out);
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "worker processes or shared memory outlived the run";
}

// Issue 16, defect 10: SIGINT in an open loop waited for the next scheduled arrival (140 s at --rate 0.001). A lane
// waiting for a due time looks at the stop flag every 10 ms, under every runner.
TEST(Interrupt, SigintDuringAnOpenLoopWaitEndsTheRunAtOnce) {
  const conpar::test_support::leak_check leaks;
  for (const char* runner : {"seq", "coro", "threads", "procs"}) {
    const fs::path out = fs::temp_directory_path() / ("conpar_open_" + std::to_string(::getpid()) + ".json");
    // One arrival at once, the next 20 s later: the signal lands while every lane waits for it.
    const pid_t pid = start_conpar({"run", "--workload", "sleep", "--param", "wait_us=1000", "--runner", runner,
                                    "--concurrency", "1", "--rate", "0.05", "--arrival", "constant", "--repetitions",
                                    "1", "--out", out},
                                   "/dev/null");
    ASSERT_GE(pid, 0);
    std::this_thread::sleep_for(1500ms);  // past calibration, inside the wait
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(pid, SIGINT), 0);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      ASSERT_LT(std::chrono::steady_clock::now() - sent, 5s) << runner << ": still waiting for the next arrival";
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(WIFEXITED(status)) << runner;
    EXPECT_EQ(WEXITSTATUS(status), 130) << runner;
    EXPECT_TRUE(fs::exists(out)) << runner << ": the results so far are written";
    fs::remove(out);
  }
  EXPECT_EQ(leaks.leftovers(), "");
}

// The parent killed outright: its workers must end by themselves (PR_SET_PDEATHSIG), leaving nothing.
TEST(Interrupt, WorkersDieWithAKilledParent) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = fs::temp_directory_path() / ("conpar_kill_" + std::to_string(::getpid()) + ".json");
  const pid_t pid = start_conpar({"run", "--workload", "sleep", "--runner", "procs", "--concurrency", "50",
                                  "--duration", "5", "--repetitions", "1", "--out", out},
                                 "/dev/null");
  ASSERT_GE(pid, 0);
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(conpar::test_support::descendants_of(pid).size(), 51u + conpar::runners::k_standby_forkservers)
      << "the run's forkserver, its standbys and 50 workers are up";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_EQ(leaks.leftovers(), "") << "workers outlived their killed parent";
  EXPECT_FALSE(fs::exists(out)) << "a killed run writes nothing under the final name";
}

}  // namespace
