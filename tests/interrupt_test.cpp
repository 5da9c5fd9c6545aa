// SIGINT / SIGTERM in the middle of a run: exit 128 + signal, the results written so far are valid JSON,
// no worker process is left behind. The test is a child subreaper, so orphans would come back to it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Reaps what came back to us; returns how many of our descendants are still alive.
int live_descendants() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  std::ifstream in("/proc/self/task/" + std::to_string(::getpid()) + "/children");
  int n = 0;
  for (pid_t p; in >> p;) ++n;
  return n;
}

void interrupt_mid_run(int sig, int expected_code) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const fs::path out = fs::temp_directory_path() / ("conpar_int_" + std::to_string(::getpid()) + ".json");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A long suite of process cells: each repetition runs 0.5 s, so the signal lands mid-run.
    ::freopen("/dev/null", "w", stdout);
    execl(CONPAR_BINARY, CONPAR_BINARY, "run", "--workload", "sleep,cpu", "--runner", "procs,coro", "--concurrency",
          "10", "--duration", "0.5", "--warmup", "0.05", "--repetitions", "2", "--out", out.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(2500ms);  // past calibration and the first cells
  ASSERT_EQ(::kill(pid, sig), 0);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "conpar did not stop after the signal";
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WIFEXITED(status)) << "conpar must exit, not die by the signal";
  EXPECT_EQ(WEXITSTATUS(status), expected_code);

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
  fs::remove(out);

  const auto reap_deadline = std::chrono::steady_clock::now() + 5s;
  while (live_descendants() > 0 && std::chrono::steady_clock::now() < reap_deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(live_descendants(), 0) << "worker processes outlived the run";
}

TEST(Interrupt, SigintKeepsResultsAndExits130) { interrupt_mid_run(SIGINT, 130); }
TEST(Interrupt, SigtermKeepsResultsAndExits143) { interrupt_mid_run(SIGTERM, 143); }

}  // namespace
