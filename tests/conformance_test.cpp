// Every runner x every workload: all issued requests complete and the checksum fold equals the sequential
// reference. The process pool is started in main(), before any runner creates threads.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "harness/core/load_driver.hpp"
#include "harness/reference.hpp"
#include "runners/runner.hpp"
#include "tests/support/leak_check.hpp"
#include "workloads/tcp_server.hpp"
#include "workloads/workload.hpp"

namespace {

using namespace conpar;
using namespace std::chrono_literals;

std::vector<std::unique_ptr<runners::runner>>* g_runners = nullptr;
const workloads::calibration k_cal{20.0};  // fixed, so the test needs no calibration run

struct conformance_case {
  std::string workload;
  workloads::param_values params;
};

runners::runner& runner_named(const std::string& name) {
  for (auto& r : *g_runners)
    if (r->name() == name) return *r;
  throw std::invalid_argument("no runner " + name);
}

// The workers a worker-pool runner gets for a load level: at least one per stage of a pipeline (procs runs one
// process per stage); seq and coro always run on their one thread.
unsigned workers_for(const runners::runner& r, const workloads::workload_spec& spec, unsigned workers) {
  if (r.shape() != runners::runner_shape::worker_pool) return 1;
  return std::max(workers, static_cast<unsigned>(spec.stages.size()));
}

class Conformance : public ::testing::TestWithParam<std::tuple<std::string, conformance_case>> {};

TEST_P(Conformance, CompletesEveryRequestAndMatchesTheReference) {
  const auto& [runner_name, c] = GetParam();
  runners::runner& r = runner_named(runner_name);
  const auto spec = workloads::make_spec(*workloads::find_workload(c.workload), c.params, k_cal);
  harness::reference_checksums reference;
  // One unmeasured pass first: workers forked before a workload's data existed make their own on their first
  // request (the memory array: slow under TSan), and that must not fall into a 40 ms window.
  {
    harness::load_driver warm(spec, 0ms, 20ms, r.shape() == runners::runner_shape::sequential ? 1 : 8);
    (void)r.run(warm, workers_for(r, spec, 2));
  }
  for (const workloads::load_point load : {workloads::load_point{1, 1}, workloads::load_point{2, 8}}) {
    const unsigned workers = workers_for(r, spec, load.workers);
    const unsigned concurrency = r.shape() == runners::runner_shape::sequential ? 1 : load.concurrency;
    SCOPED_TRACE("workers " + std::to_string(workers) + " concurrency " + std::to_string(concurrency));
    harness::load_driver loop(spec, 5ms, 40ms, concurrency);
    const runners::cell_outcome out = r.run(loop, workers);
    ASSERT_GT(loop.issued(), 0u);
    EXPECT_EQ(out.stats.completed, loop.issued());
    EXPECT_EQ(out.stats.checksum_fold, reference.fold(spec, loop.issued()));
    EXPECT_GT(out.stats.measured, 0u);
    EXPECT_EQ(out.stats.latency.count(), out.stats.measured) << "every measured completion is in the histogram";
    if (runner_name == "procs") {
      EXPECT_GT(out.other_processes.user_s + out.other_processes.sys_s, 0.0) << "worker CPU is accounted";
    }
    // A pipeline reports each stage's busy time: every stage ran (each computes), none longer than the cell.
    ASSERT_EQ(out.stage_busy_s.size(), spec.stages.size());
    const double cell_s = std::chrono::duration<double>(harness::clock::now() - loop.window().start).count();
    for (const double busy : out.stage_busy_s) {
      EXPECT_GT(busy, 0.0);
      EXPECT_LE(busy, cell_s * workers);
    }
  }
  // Open loop: the lanes take scheduled requests and wait for their due times; the same validation holds.
  const unsigned lanes = r.shape() == runners::runner_shape::sequential ? 1 : 8;
  harness::load_driver open(spec, 5ms, 60ms, lanes);
  open.set_open_loop(2000, harness::arrival::poisson, 7);
  const runners::cell_outcome out = r.run(open, workers_for(r, spec, 2));
  ASSERT_GT(open.issued(), 0u);
  EXPECT_LE(open.issued(), 400u) << "no more than the schedule holds (about 2000/s x 65 ms)";
  EXPECT_EQ(out.stats.completed, open.issued());
  EXPECT_EQ(out.stats.checksum_fold, reference.fold(spec, open.issued()));
  EXPECT_EQ(out.stats.latency.count(), out.stats.measured);
  ASSERT_TRUE(out.stats.service.get()) << "open-loop lanes record the service time";
  EXPECT_EQ(out.stats.service.get()->count(), out.stats.measured);
}

INSTANTIATE_TEST_SUITE_P(
    RunnersByWorkloads, Conformance,
    ::testing::Combine(::testing::Values("seq", "coro", "threads", "procs"),
                       ::testing::Values(conformance_case{"cpu", {{"work_us", 20}}},
                                         conformance_case{"cpu", {{"work_us", 0}}},
                                         conformance_case{"sleep", {{"wait_us", 1000}}},
                                         conformance_case{"mixed", {{"request_us", 500}, {"cpu_share", 0.5}}},
                                         // The pool forked before this array was made: its workers make their own.
                                         conformance_case{"memory", {{"array_mib", 4}, {"slice_kib", 64}}},
                                         conformance_case{"tcp", {{"delay_us", 200}, {"response_bytes", 256}}},
                                         // Each runner's pipeline form: stage k runs step k, joined by bounded queues.
                                         conformance_case{"pipeline", {{"produce_us", 2}, {"transform_us", 10}, {"consume_us", 2}}})),
    [](const auto& param_info) {
      return std::get<0>(param_info.param) + "_" + std::get<1>(param_info.param).workload + "_" +
             std::to_string(param_info.index);
    });

class Faults : public ::testing::TestWithParam<std::string> {};

// A request that throws, in a coroutine, a TBB task or a child process, fails the cell with its message.
TEST_P(Faults, AThrowingRequestFailsTheCellWithItsMessage) {
  runners::runner& r = runner_named(GetParam());
  const auto spec = workloads::make_spec(*workloads::find_workload("fault"), {{"work_us", 5}, {"fail_at", 20}}, k_cal);
  harness::load_driver loop(spec, 5ms, 200ms, r.shape() == runners::runner_shape::sequential ? 1 : 4);
  try {
    (void)r.run(loop, r.shape() == runners::runner_shape::worker_pool ? 2 : 1);
    ADD_FAILURE() << "the planted fault did not surface";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("request 20 failed (planted fault)"), std::string::npos) << e.what();
  }
  // The runner is still usable afterwards.
  const auto ok = workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", 5}}, k_cal);
  harness::load_driver again(ok, 1ms, 20ms, 2);
  const auto out = r.run(again, r.shape() == runners::runner_shape::worker_pool ? 2 : 1);
  EXPECT_EQ(out.stats.completed, again.issued());
}

// A pipeline whose transform stage throws at one item fails the cell with its message (coro's other stages end as
// their channels close, procs stops the pipeline's workers), and the runner runs the next pipeline as usual.
TEST_P(Faults, AThrowingStageFailsThePipelineCellWithItsMessage) {
  runners::runner& r = runner_named(GetParam());
  auto spec = workloads::make_spec(*workloads::find_workload("pipeline"), {{"transform_us", 5}}, k_cal);
  spec.prototype.steps[1] = workloads::step{workloads::step_kind::fail, 20};
  harness::load_driver loop(spec, 5ms, 200ms, r.shape() == runners::runner_shape::sequential ? 1 : 8);
  try {
    (void)r.run(loop, workers_for(r, spec, 3));
    ADD_FAILURE() << "the planted fault did not surface";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("request 20 failed (planted fault)"), std::string::npos) << e.what();
  }
  const auto ok = workloads::make_spec(*workloads::find_workload("pipeline"), {{"transform_us", 5}}, k_cal);
  harness::load_driver again(ok, 1ms, 20ms, 8);
  const auto out = r.run(again, workers_for(r, ok, 3));
  EXPECT_EQ(out.stats.completed, again.issued());
  harness::reference_checksums reference;
  EXPECT_EQ(out.stats.checksum_fold, reference.fold(ok, again.issued()));
}

// Named by runner, so the tsan preset's filter (-*threads*) can leave the oneTBB runner out.
INSTANTIATE_TEST_SUITE_P(EveryRunner, Faults, ::testing::Values("seq", "coro", "threads", "procs"),
                         [](const auto& param_info) { return param_info.param; });

// A server that stops answering (here: stopped with SIGSTOP) holds no runner past the cell's watchdog: the
// blocking clients' reads and the coroutines' loop are cut off there, and the cell fails saying so.
TEST_P(Faults, AServerThatNeverAnswersIsCutOffAtTheWatchdog) {
  runners::runner& r = runner_named(GetParam());
  const auto spec = workloads::make_spec(*workloads::find_workload("tcp"), {{"delay_us", 0}, {"response_bytes", 64}}, k_cal);
  const pid_t server = workloads::tcp_server_pid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGSTOP), 0);
  harness::load_driver loop(spec, 0ms, 50ms, r.shape() == runners::runner_shape::sequential ? 1 : 4);
  loop.set_watchdog(300ms);
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)r.run(loop, r.shape() == runners::runner_shape::worker_pool ? 2 : 1);
    ADD_FAILURE() << "a cell against a silent server succeeded";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("watchdog"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "cut off near the deadline, not hung";
  ASSERT_EQ(kill(server, SIGCONT), 0);
  // The cut-off connections were dropped; the next cell's connections start clean.
  harness::load_driver again(spec, 1ms, 20ms, 2);
  const auto out = r.run(again, r.shape() == runners::runner_shape::worker_pool ? 2 : 1);
  EXPECT_EQ(out.stats.completed, again.issued());
  EXPECT_EQ(out.stats.checksum_fold, harness::reference_checksums().fold(spec, again.issued()));
}

TEST(Conformance, EveryRunnerIsRegisteredOnce) {
  std::vector<std::string> names;
  for (const auto& r : *g_runners) names.emplace_back(r->name());
  EXPECT_EQ(names, (std::vector<std::string>{"seq", "coro", "threads", "procs"}));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const conpar::test_support::leak_check leaks;
  int failed = 0;
  {
    auto runners = conpar::runners::make_runners();
    for (auto& r : runners) r->prepare(3);  // forks the procs pool while single-threaded; 3: one per pipeline stage
    g_runners = &runners;
    failed = RUN_ALL_TESTS();
    g_runners = nullptr;
  }
  conpar::workloads::stop_tcp_server();  // the tcp cases' server, started by their first make_spec
  // The pool is gone: its forkserver and workers must be too.
  if (const std::string left = leaks.leftovers(); !left.empty()) {
    std::cerr << "conformance: left behind after the runners were destroyed: " << left << "\n";
    return 1;
  }
  return failed;
}
