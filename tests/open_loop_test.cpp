// The open loop end to end: rows carry the offered and achieved rates and the merged histogram, the procs
// histogram counts exactly what its workers did, and a planted stall shows in the open loop's tail while the
// closed loop hides it (coordinated omission).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/conpar_process.hpp"
#include "tests/support/leak_check.hpp"

namespace {

namespace fs = std::filesystem;
using conpar::test_support::iteration_rows;
using conpar::test_support::run_conpar;

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("conpar_open_" + std::to_string(::getpid()) + "_" + name + ".json");
}

bool is_open(const nlohmann::json& row) { return row.contains("offered_per_second"); }

TEST(OpenLoop, RowsCarryOfferedAchievedAndTheMergedHistogramUnderEveryRunner) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_path("sweep");
  // Half of each runner's own peak at 100 in flight: none should saturate.
  const auto o = run_conpar({"run", "--workload", "sleep", "--param", "wait_us=2000", "--concurrency", "100",
                             "--rate-fraction", "0.5", "--duration", "0.5", "--repetitions", "1", "--out",
                             out.string()});
  ASSERT_EQ(o.code, 0) << o.output;
  int open = 0;
  for (const auto& row : iteration_rows(out)) {
    if (!is_open(row)) continue;
    ++open;
    const std::string name = row["name"];
    const double offered = row["offered_per_second"], achieved = row["achieved_per_second"];
    EXPECT_NEAR(offered, 0.5 * row["peak_per_second"].get<double>(), 1e-6 * offered) << name;
    EXPECT_EQ(row["saturated"], row["measured_requests"].get<double>() < 0.95 * row["scheduled_in_window"].get<double>() ? 1 : 0)
        << name;
    EXPECT_NEAR(achieved, offered, 0.25 * offered) << name << ": unsaturated, it achieves about what is offered";
    EXPECT_EQ(row["histogram"]["count"], row["measured_requests"]) << name << ": the histogram holds every measured request";
    EXPECT_EQ(row["validated"], 1) << name;
    if (name.find("/seq/") == std::string::npos) {  // seq at 250/s has too few samples for a p99 in 0.5 s
      EXPECT_TRUE(row.contains("latency_p99_us")) << name;
      EXPECT_TRUE(row.contains("service_p99_us")) << name;
    }
  }
  EXPECT_EQ(open, 4) << "seq, coro, threads, procs";
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "");
}

// The same run stalls once for 50 ms in each cell. The closed loop stops issuing during the stall, so only
// the one request in flight sees it: its p99.9 stays at the service time. The open loop's requests keep
// coming due, every one of them waits the stall out: its p99.9 is the stall.
TEST(OpenLoop, AStallShowsInTheOpenLoopTailAndHidesInTheClosedLoop) {
  constexpr double k_stall_us = 50'000;
  // procs: the stall freezes a worker process's lane, which claims from the load in shared memory itself.
  for (const char* runner : {"seq", "coro", "procs"}) {
    const fs::path out = temp_path(std::string("stall_") + runner);
    const auto o = run_conpar({"run", "--workload", "cpu", "--param", "work_us=20", "--runner", runner, "--concurrency",
                               "1", "--rate-fraction", "0.5", "--duration", "1", "--repetitions", "1",
                               "--test-stall-ms", "50", "--out", out.string()});
    ASSERT_EQ(o.code, 0) << o.output;
    const auto rows = iteration_rows(out);
    ASSERT_EQ(rows.size(), 2u);
    const auto& closed = is_open(rows[0]) ? rows[1] : rows[0];
    const auto& open = is_open(rows[0]) ? rows[0] : rows[1];
    EXPECT_GE(closed["latency_max_us"].get<double>(), k_stall_us) << runner << ": the stall happened in the closed loop";
    EXPECT_LT(closed["latency_p999_us"].get<double>(), 0.5 * k_stall_us) << runner << ": and its p99.9 hides most of it";
    EXPECT_GE(open["latency_p999_us"].get<double>(), 0.9 * k_stall_us) << runner << ": the open loop's p99.9 shows it";
    std::cout << runner << ": closed p99.9 " << closed["latency_p999_us"] << " us (max " << closed["latency_max_us"]
              << "), open p99.9 " << open["latency_p999_us"] << " us at " << open["offered_per_second"] << "/s\n";
    fs::remove(out);
  }
}

}  // namespace
