// Faults end to end, through the conpar binary: a worker killed mid-cell, a cell that never finishes, a disk
// that fills up. Each is an error row or a clear message with a documented exit code, the run goes on where
// it can, nothing already written is lost, and no process or /dev/shm entry is left (leak_check).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/conpar_process.hpp"
#include "tests/support/leak_check.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using conpar::test_support::iteration_rows;
using conpar::test_support::run_conpar;

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("conpar_faults_" + std::to_string(::getpid()) + "_" + name);
}

// For run_conpar: once the run's forkserver has its `n` workers, kills worker 1 (the second forked) 0.7 s later,
// inside the first cell's 2 s window.
std::function<void(pid_t)> kill_worker_1_of(std::size_t n) {
  return [n](pid_t conpar) {
    std::vector<pid_t> workers;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (workers.size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
      workers = conpar::test_support::pool_workers_of(conpar);
    }
    ASSERT_EQ(workers.size(), n) << "the run's forkserver and its workers";
    std::this_thread::sleep_for(700ms);
    ::kill(workers[1], SIGKILL);
  };
}

// The rows of a run of two cells whose first lost worker 1 (kill_worker_1_of): an error row naming the worker and
// the signal, then a validated cell on the restarted worker(s). Returns the first row's message.
std::string expect_worker_1_lost_then_a_valid_cell(const fs::path& out) {
  const auto rows = iteration_rows(out);
  if (rows.size() != 2u) {
    ADD_FAILURE() << "two cells, got " << rows.dump();
    return "";
  }
  EXPECT_TRUE(rows[0].value("error_occurred", false)) << rows[0].dump();
  const std::string message = rows[0].value("error_message", "");
  EXPECT_NE(message.find("worker 1"), std::string::npos) << message;
  EXPECT_NE(message.find("signal 9"), std::string::npos) << message;
  EXPECT_FALSE(rows[1].value("error_occurred", false)) << rows[1].dump();
  EXPECT_EQ(rows[1].value("validated", 0), 1) << "the next cell runs on a restarted worker";
  return message;
}

TEST(Faults, KilledWorkerIsAnErrorRowNamingItAndTheRunGoesOn) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_path("killed.json");
  // Two cells on the same two workers: the first loses worker 1 mid-window, the second must still run.
  const auto o = run_conpar({"run", "--workload", "sleep", "--param", "wait_us=2000", "--runner", "procs",
                                "--workers", "2", "--concurrency", "2,4", "--duration", "2", "--warmup", "0.05",
                                "--repetitions", "1", "--out", out.string()},
                               {}, kill_worker_1_of(2));
  EXPECT_EQ(o.code, 3) << o.output;
  (void)expect_worker_1_lost_then_a_valid_cell(out);
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "");
}

// Issue 16, defect 2: a killed forkserver took every later procs cell with it ("workers did not finish an earlier
// cell's requests"). A standby forkserver takes over: the cell it died in is an error row naming it, the rest run.
TEST(Faults, AKilledForkserverIsAnErrorRowAndLaterProcsCellsRun) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_path("killed_forkserver.json");
  const auto kill_forkserver = [](pid_t conpar) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (conpar::test_support::pool_workers_of(conpar).size() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(700ms);
    for (const pid_t server : conpar::test_support::children_of(conpar))
      if (!conpar::test_support::children_of(server).empty()) ::kill(server, SIGKILL);  // the one with workers
  };
  const auto o = run_conpar({"run", "--workload", "sleep", "--param", "wait_us=2000", "--runner", "procs",
                             "--workers", "2", "--concurrency", "2,4,8", "--duration", "2", "--warmup", "0.05",
                             "--repetitions", "1", "--out", out.string()},
                            {}, kill_forkserver);
  EXPECT_EQ(o.code, 3) << o.output;
  const auto rows = iteration_rows(out);
  ASSERT_EQ(rows.size(), 3u) << rows.dump();
  EXPECT_TRUE(rows[0].value("error_occurred", false)) << rows[0].dump();
  const std::string message = rows[0].value("error_message", "");
  EXPECT_NE(message.find("forkserver"), std::string::npos) << message;
  EXPECT_NE(message.find("signal 9"), std::string::npos) << message;
  EXPECT_NE(message.find("took over"), std::string::npos) << message;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_FALSE(rows[i].value("error_occurred", false)) << rows[i].dump();
    EXPECT_EQ(rows[i].value("validated", 0), 1) << "a later cell runs on the standby's workers";
  }
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the dead forkserver's workers, the standby and its workers are gone";
}

TEST(Faults, AKilledPipelineStageIsAnErrorRowAndTheNextPipelineRuns) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_path("killed_stage.json");
  // Two pipeline cells on the same three workers, one per stage: the first loses the transform stage's worker.
  const auto o = run_conpar({"run", "--workload", "pipeline", "--runner", "procs", "--workers", "3", "--concurrency",
                             "16,8", "--duration", "2", "--warmup", "0.05", "--repetitions", "1", "--out", out.string()},
                            {}, kill_worker_1_of(3));
  EXPECT_EQ(o.code, 3) << o.output;
  const std::string message = expect_worker_1_lost_then_a_valid_cell(out);
  EXPECT_NE(message.find("stopped the pipeline's 3 worker processes"), std::string::npos) << message;
  const auto rows = iteration_rows(out);
  for (const char* stage : {"stage_produce_busy", "stage_transform_busy", "stage_consume_busy"})
    EXPECT_GT(rows.back().value(stage, 0.0), 0.0) << stage;
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the stopped workers were reaped, their replacements too";
}

TEST(Faults, ACellThatNeverFinishesIsEndedByTheWatchdogUnderEveryRunner) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_path("stall.json");
  // Request 20 of each fault cell waits for an hour; the watchdog (1 s after the window) must end it.
  const auto o = run_conpar({"run", "--suite", "smoke", "--workload", "fault,cpu", "--param", "work_us=5",
                                "--param", "fail_at=1e12", "--param", "stall_at=20", "--workers", "2",
                                "--cell-timeout", "1", "--out", out.string()});
  EXPECT_EQ(o.code, 3) << o.output;
  EXPECT_LT(o.seconds, 60) << "four stalled cells cost about their timeout each, not an hour";
  int cut_off = 0, validated = 0;
  for (const auto& row : iteration_rows(out)) {
    const std::string name = row["name"];
    if (name.rfind("fault/", 0) == 0) {
      EXPECT_NE(row.value("error_message", "").find("watchdog"), std::string::npos) << row.dump();
      ++cut_off;
    } else {
      validated += row.value("validated", 0);
    }
  }
  EXPECT_EQ(cut_off, 4) << "seq, coro, threads, procs";
  EXPECT_EQ(validated, 4) << "the cpu cells are measured as usual";
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the procs runner's hung worker was killed and reaped";
}

TEST(Faults, AFullDiskIsExitOneAndTheOldResultsStay) {
  const fs::path dir = temp_path("full");
  fs::create_directories(dir);
  const fs::path out = dir / "results.json";
  { std::ofstream(out) << "{\"old\": true}\n"; }
  // The file-size limit makes every write past 1 KiB fail with EFBIG, as a full disk fails with ENOSPC
  // (a results file of one cell is several KiB: its context and histogram alone exceed the limit).
  const auto small_disk = [] {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1024, 1024};
    setrlimit(RLIMIT_FSIZE, &limit);
  };
  const auto o = run_conpar({"run", "--suite", "smoke", "--workload", "cpu", "--param", "work_us=5",
                                "--runner", "seq", "--out", out.string()},
                               small_disk);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_NE(o.output.find("cannot write results"), std::string::npos) << o.output;
  std::ifstream in(out);
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "{\"old\": true}\n") << "the earlier results are untouched";
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1) << "no temporary file left";
  fs::remove_all(dir);
}

TEST(Faults, DevFullIsRefusedAndLeftAlone) {
  struct stat before {};
  ASSERT_EQ(::stat("/dev/full", &before), 0);
  ASSERT_TRUE(S_ISCHR(before.st_mode));
  const auto o = run_conpar({"run", "--suite", "smoke", "--workload", "cpu", "--param", "work_us=5",
                                "--runner", "seq", "--out", "/dev/full"});
  EXPECT_EQ(o.code, 2) << o.output << ": refused before any work (issue 16, defect 11)";
  EXPECT_NE(o.output.find("cannot write results to /dev/full"), std::string::npos) << o.output;
  struct stat after {};
  ASSERT_EQ(::stat("/dev/full", &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode)) << "rename() must never replace the device with a file";
  EXPECT_EQ(after.st_rdev, before.st_rdev);
}

}  // namespace
