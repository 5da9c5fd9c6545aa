#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "workloads/workload.hpp"

using namespace conpar::workloads;

namespace {
const calibration k_workload_cal{300.0};
}

TEST(Workload, CatalogHoldsTheWorkloads) {
  ASSERT_NE(find_workload("cpu"), nullptr);
  ASSERT_NE(find_workload("sleep"), nullptr);
  ASSERT_NE(find_workload("mixed"), nullptr);
  ASSERT_NE(find_workload("memory"), nullptr);
  ASSERT_NE(find_workload("pipeline"), nullptr);
  EXPECT_EQ(find_workload("nope"), nullptr);
}

TEST(Workload, CpuSpecComputesTheCalibratedIterations) {
  const workload_spec s = make_spec(*find_workload("cpu"), {{"work_us", 10}}, k_workload_cal);
  EXPECT_EQ(s.key(), "cpu/work_us:10");
  EXPECT_EQ(s.prototype.steps[0].kind, step_kind::compute);
  EXPECT_EQ(s.prototype.steps[0].arg, 3000u);
  EXPECT_EQ(s.work_us, 10);
  EXPECT_EQ(s.make(7).id, 7u);
}

TEST(Workload, MixedSplitsComputeAroundTheWait) {
  const workload_spec s = make_spec(*find_workload("mixed"), {{"cpu_share", 0.25}}, k_workload_cal);
  EXPECT_EQ(s.key(), "mixed/request_us:1000/cpu_share:0.25");
  EXPECT_DOUBLE_EQ(s.work_us, 250);
  EXPECT_DOUBLE_EQ(s.wait_us, 750);
  EXPECT_EQ(s.prototype.steps[0].kind, step_kind::compute);
  EXPECT_EQ(s.prototype.steps[1].kind, step_kind::wait);
  EXPECT_EQ(s.prototype.steps[1].arg, 750u);
  EXPECT_EQ(s.prototype.steps[2].kind, step_kind::compute);
}

TEST(Workload, FullCpuShareHasNoWaitStep) {
  const workload_spec s = make_spec(*find_workload("mixed"), {{"cpu_share", 1}}, k_workload_cal);
  EXPECT_EQ(s.prototype.steps[1].kind, step_kind::compute);
  EXPECT_EQ(s.prototype.steps[2].kind, step_kind::none);
}

TEST(Workload, PipelineRunsOneComputeStepPerStage) {
  const workload_spec s = make_spec(*find_workload("pipeline"), {{"transform_us", 30}}, k_workload_cal);
  EXPECT_EQ(s.key(), "pipeline/produce_us:2/transform_us:30/consume_us:2");
  EXPECT_EQ(s.stages, (std::vector<std::string>{"produce", "transform", "consume"}));
  EXPECT_DOUBLE_EQ(s.work_us, 34);
  for (const step& st : s.prototype.steps) EXPECT_EQ(st.kind, step_kind::compute);
  EXPECT_EQ(s.prototype.steps[1].arg, 9000u);
  const workload_spec idle = make_spec(*find_workload("pipeline"), {{"produce_us", 0}}, k_workload_cal);
  EXPECT_EQ(idle.prototype.steps[0].kind, step_kind::compute) << "a stage of 0 us is still a stage";
  EXPECT_EQ(idle.prototype.steps[0].arg, 0u);
  EXPECT_TRUE(make_spec(*find_workload("cpu"), {}, k_workload_cal).stages.empty()) << "plain requests are no pipeline";
}

TEST(Workload, BadParametersAreRejectedByName) {
  const workload_def& cpu = *find_workload("cpu");
  try {
    (void)resolve_params(cpu, {{"wait_us", 1}});
    FAIL() << "unknown parameter accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("wait_us"), std::string::npos);
  }
  EXPECT_THROW((void)resolve_params(cpu, {{"work_us", -1}}), std::invalid_argument);
  EXPECT_THROW((void)resolve_params(cpu, {{"work_us", std::nan("")}}), std::invalid_argument);
  EXPECT_THROW((void)resolve_params(*find_workload("mixed"), {{"cpu_share", 1.5}}), std::invalid_argument);
}

TEST(Workload, DefaultSweepsScaleWithTheCoreCount) {
  const auto cpu4 = find_workload("cpu")->defaults(4);
  ASSERT_FALSE(cpu4.empty());
  const auto& loads = cpu4[0].loads;
  ASSERT_EQ(loads.size(), 4u);  // 1, 2, 4, 8
  EXPECT_EQ(loads.back().workers, 8u);
  const auto cpu2 = find_workload("cpu")->defaults(2);
  EXPECT_EQ(cpu2[0].loads.size(), 3u);  // 1, 2, 4: duplicates removed
  for (const workload_def& def : catalog())
    for (const default_point& p : def.defaults(2)) EXPECT_NO_THROW((void)make_spec(def, p.params, k_workload_cal)) << def.name;
}
