// The lane every runner runs: the window opens once every lane has completed a request, ids are claimed in blocks
// at fine grain and every claimed id is issued, and a dead lane's record names exactly the ids it held.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "harness/core/lane.hpp"
#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

namespace {

using namespace conpar;
using namespace std::chrono_literals;
using harness::clock;

const workloads::calibration k_cal{20.0};

workloads::workload_spec cpu_spec(double work_us) {
  return workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", work_us}}, k_cal);
}

// Completes the lane's oldest request now, without executing it (the lane's bookkeeping is what is tested).
void complete_one(harness::lane<harness::lane_stats>& l) {
  const auto now = clock::now();
  ASSERT_NE(l.next(now), nullptr);
  l.complete(now, clock::now(), 1);
}

TEST(Lane, TheWindowOpensOnceEveryLaneHasCompletedARequest) {
  const auto spec = cpu_spec(1);
  harness::load_driver load(spec, 1ms, 50ms, 2);
  load.expect_lanes(2);
  load.begin();
  harness::lane_stats stats;
  harness::local_lane<harness::lane_stats> a(load.state(), 1, stats), b(load.state(), 1, stats);
  std::this_thread::sleep_for(5ms);  // past the fixed warm-up
  complete_one(a.run);
  EXPECT_EQ(load.window().measure_from, clock::time_point::max()) << "one lane of two has not completed yet";
  std::this_thread::sleep_for(20ms);
  const auto before_b = clock::now();
  complete_one(b.run);
  const auto w = load.window();
  EXPECT_GE(w.measure_from, before_b) << "opened by the last lane's first completion";
  EXPECT_EQ(w.stop - w.measure_from, std::chrono::duration_cast<clock::duration>(50ms)) << "then the planned length";
  EXPECT_EQ(stats.measured, 0u) << "nothing before the window counts";
}

TEST(Lane, ALaneThatNeverCompletesHoldsTheWindowBackAtMostTheStatedBound) {
  const auto spec = cpu_spec(1);
  harness::load_driver load(spec, 0ms, 10ms, 2);
  load.expect_lanes(2);
  load.begin();
  auto& s = load.state();
  EXPECT_FALSE(s.claim(s.warmup_end + harness::load_state::k_max_warmup - 1ms, 1) == std::nullopt);
  EXPECT_EQ(load.window().measure_from, clock::time_point::max());
  const auto late = s.warmup_end + harness::load_state::k_max_warmup;
  (void)s.claim(late, 1);
  EXPECT_EQ(load.window().measure_from, late) << "opened at the bound";
}

TEST(Lane, FineGrainedLanesClaimBlocksAndIssueEveryIdTheyClaim) {
  const auto spec = cpu_spec(0);
  harness::load_driver load(spec, 0ms, 20ms, 1);
  load.expect_lanes(1);
  load.begin();
  harness::lane_stats stats;
  harness::local_lane<harness::lane_stats> l(load.state(), 1, stats);
  std::uint64_t claims = 0, last_next = 0;
  harness::run_blocking_lane(l.run, [&](const workloads::request& r) {
    if (r.id >= last_next) {  // a new block began
      ++claims;
      last_next = l.record.block_end;
    }
    return workloads::expected_checksum(r);
  });
  EXPECT_EQ(stats.completed, load.issued()) << "every claimed id was issued and completed: a prefix";
  EXPECT_LT(claims * 8, load.issued()) << "the shared counter is written once per block, not per request";
}

TEST(Lane, ADeadLanesRecordNamesEachHeldIdOnceAndUndoesAHalfRecordedCompletion) {
  const auto spec = cpu_spec(1);
  harness::load_driver load(spec, 0ms, 1s, 4);
  load.expect_lanes(1);
  load.begin();
  harness::lane_stats stats;
  harness::local_lane<harness::lane_stats> l(load.state(), 4, stats);
  complete_one(l.run);  // ids 0..3 issued; 0 completed
  ASSERT_NE(l.run.next(clock::now()), nullptr);  // refilled: 1..4 in flight
  // A kill in the middle of recording id 1's completion: stats moved, head did not.
  l.record.undo_completed = stats.completed;
  l.record.undo_fold = stats.checksum_fold;
  l.record.committing = l.record.head + 1;
  ++stats.completed;
  stats.checksum_fold += 99;
  const auto lost = harness::lost_with(l.record, std::span<const harness::lane_entry>(l.ring), stats);
  const std::set<std::uint64_t> unique(lost.begin(), lost.end());
  EXPECT_EQ(unique.size(), lost.size()) << "each id once";
  EXPECT_EQ(stats.completed, 1u) << "the half-recorded completion is undone";
  EXPECT_EQ(stats.checksum_fold, 1u);
  EXPECT_EQ(stats.completed + lost.size(), load.issued()) << "issued = completed + lost";
  EXPECT_EQ(unique.count(0), 0u);
  for (std::uint64_t id = 1; id < load.issued(); ++id) EXPECT_EQ(unique.count(id), 1u) << id;
}

}  // namespace
