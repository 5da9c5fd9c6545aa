// Soak: a million requests through the procs runner while a worker is killed every 100,000 requests and
// restarted by the forkserver. Every request must end completed and validated, or reported lost; none may
// vanish or count twice. Long (seconds), so it carries no CTest label: run it with `ctest -R procs_soak`.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "harness/core/load_driver.hpp"
#include "runners/registry.hpp"
#include "tests/support/leak_check.hpp"
#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

namespace {

using namespace conpar;
using namespace std::chrono_literals;

constexpr std::uint64_t k_requests = 1'000'000;
constexpr std::uint64_t k_kill_every = 100'000;

TEST(ProcsSoak, MillionRequestsWithAWorkerKilledEveryHundredThousand) {
  const test_support::leak_check leaks;
  const auto cal = workloads::calibrate();
  const auto spec = workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", 1}}, cal);
  std::uint64_t expected_kills = 0;
  {
    auto procs = runners::make_procs_runner();
    procs->prepare(2);
    harness::load_driver load(spec, 0s, 600s, 64);
    load.limit_requests(k_requests);

    std::atomic<bool> done{false};
    std::uint64_t kills = 0;
    std::thread killer([&] {
      for (std::uint64_t next = k_kill_every; next < k_requests && !done; std::this_thread::sleep_for(20us)) {
        if (load.issued() < next) continue;
        const auto workers = test_support::pool_workers_of(::getpid());
        if (workers.empty()) continue;  // a restart in progress
        ::kill(workers[kills % workers.size()], SIGKILL);
        ++kills;
        next += k_kill_every;
      }
    });
    const auto start = std::chrono::steady_clock::now();
    const auto out = procs->run(load, 2);
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done = true;
    killer.join();
    expected_kills = kills;

    EXPECT_EQ(load.issued(), k_requests);
    EXPECT_EQ(out.stats.completed + out.lost.size(), k_requests) << "every request completed or reported lost";
    const std::set<std::uint64_t> lost(out.lost.begin(), out.lost.end());
    EXPECT_EQ(lost.size(), out.lost.size()) << "no request reported lost twice";
    EXPECT_TRUE(lost.empty() || *lost.rbegin() < k_requests);
    std::uint64_t expected = 0;
    for (std::uint64_t id = 0; id < k_requests; ++id)
      if (!lost.count(id)) expected += workloads::expected_checksum(spec.make(id));
    EXPECT_EQ(out.stats.checksum_fold, expected) << "the completed requests are exactly the ones not lost";
    EXPECT_EQ(kills, k_requests / k_kill_every - 1);
    EXPECT_EQ(out.faults.size(), kills) << "each death is reported once";
    for (const auto& f : out.faults) EXPECT_NE(f.find("signal 9"), std::string::npos) << f;
    std::cout << "soak: " << k_requests << " requests in " << wall_s << " s, " << out.stats.completed
              << " completed and validated, " << out.lost.size() << " lost with " << out.faults.size()
              << " killed workers (each restarted)\n";

    // The restarted workers serve a normal cell afterwards.
    harness::load_driver after(spec, 0s, 50ms, 8);
    const auto clean = procs->run(after, 2);
    EXPECT_TRUE(clean.faults.empty());
    EXPECT_EQ(clean.stats.completed, after.issued());
  }
  EXPECT_GT(expected_kills, 0u);
  EXPECT_EQ(leaks.leftovers(), "");
}

}  // namespace
