#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "harness/matrix.hpp"
#include "harness/sweeps.hpp"
#include "runners/runner.hpp"

using namespace conpar;

namespace {

using points = std::vector<harness::granularity_point>;

// Rows as finish_results leaves them: one per repetition, plus Google Benchmark's aggregates.
nlohmann::json rows_of(const std::string& name, const std::vector<double>& throughputs, double work_us) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < throughputs.size(); ++i)
    rows.push_back({{"name", name}, {"run_name", name}, {"run_type", "iteration"}, {"repetition_index", i},
                    {"items_per_second", throughputs[i]}, {"work_us", work_us}});
  std::vector<double> sorted = throughputs;
  std::sort(sorted.begin(), sorted.end());
  rows.push_back({{"name", name + "_median"}, {"run_name", name}, {"run_type", "aggregate"},
                  {"aggregate_name", "median"}, {"items_per_second", sorted[sorted.size() / 2]}, {"work_us", work_us}});
  rows.push_back({{"name", name + "_cv"}, {"run_name", name}, {"run_type", "aggregate"}, {"aggregate_name", "cv"},
                  {"items_per_second", 0.01}, {"work_us", 0}});
  return rows;
}

const nlohmann::json& row(const nlohmann::json& doc, const std::string& name) {
  for (const auto& r : doc["benchmarks"])
    if (r["name"] == name) return r;
  throw std::out_of_range(name);
}

}  // namespace

TEST(Metg, InterpolatesOnLogSizeWhereTheCurveCrossesTheTarget) {
  // 25% at 1 us, 75% at 9 us: half-way on log(size) is 3 us.
  const auto m = harness::metg(points{{0.1, 0.02}, {1, 0.25}, {9, 0.75}, {100, 0.98}}, 0.5);
  ASSERT_TRUE(m);
  EXPECT_NEAR(m->size_us, 3.0, 1e-9);
  EXPECT_FALSE(m->below_sweep);
}

TEST(Metg, ADipBelowTheTargetAtALargerSizeMovesItUp) {
  // 0.3 us reaches 50% by a fluke; 1 us falls back below: the sizes that hold are 3 us and up.
  const auto m = harness::metg(points{{0.1, 0.2}, {0.3, 0.55}, {1, 0.45}, {3, 0.7}}, 0.5);
  ASSERT_TRUE(m);
  EXPECT_GT(m->size_us, 1.0);
  EXPECT_LT(m->size_us, 3.0);
}

TEST(Metg, AtTheSmallestSizeOrNeverReached) {
  const auto low = harness::metg(points{{0.1, 0.9}, {1, 0.95}}, 0.5);
  ASSERT_TRUE(low);
  EXPECT_EQ(low->size_us, 0.1);
  EXPECT_TRUE(low->below_sweep) << "the METG is at most the smallest size measured";
  EXPECT_FALSE(harness::metg(points{{0.1, 0.1}, {1, 0.6}, {10, 0.4}}, 0.5)) << "the largest size misses it";
  EXPECT_FALSE(harness::metg({}, 0.5));
}

TEST(Sweeps, EfficiencyAgainstSeqAndTheMetgOfEachRunnersCurve) {
  const auto runners = runners::make_runners();
  harness::selection sel;
  sel.workloads = {"cpu"};
  sel.runners = {"seq", "threads"};
  sel.filter = "work_us:(0.1|1|10)$";
  const auto cells = harness::build_matrix(sel, runners, 2);
  ASSERT_EQ(cells.size(), 6u);  // seq and threads at 2 workers, three sizes

  // seq: a request of s us takes s + 0.1 us. threads on 2 workers: each request costs s + 1 us of a worker.
  nlohmann::json doc = {{"benchmarks", nlohmann::json::array()}};
  for (const double s : {0.1, 1.0, 10.0}) {
    const std::string size = s == 0.1 ? "0.1" : s == 1 ? "1" : "10";
    for (const auto& r : rows_of("cpu/seq/workers:1/concurrency:1/work_us:" + size, {1e6 / (s + 0.1)}, s))
      doc["benchmarks"].push_back(r);
    const double t = 2e6 / (s + 1);
    // About 0.8 ms of work in flight per worker (catalog.cpp): 256 requests at 0.1 and 1 us, 80 at 10 us.
    const std::string in_flight = s == 10 ? "160" : "512";
    for (const auto& r : rows_of("cpu/threads/workers:2/concurrency:" + in_flight + "/work_us:" + size, {t * 0.99, t, t * 1.01}, s))
      doc["benchmarks"].push_back(r);
  }
  harness::add_sweep_results(doc, cells);

  const auto& median = row(doc, "cpu/threads/workers:2/concurrency:160/work_us:10_median");
  EXPECT_NEAR(median["efficiency"].get<double>(), 10.1 / 11, 1e-9);
  EXPECT_NEAR(row(doc, "cpu/seq/workers:1/concurrency:1/work_us:1")["efficiency"].get<double>(), 1, 1e-9);
  EXPECT_EQ(median["sweeps"], nlohmann::json::array({"granularity"}));
  EXPECT_FALSE(row(doc, "cpu/threads/workers:2/concurrency:160/work_us:10_cv").contains("efficiency"))
      << "a spread is not an efficiency";

  // threads: 1.1/2 = 55% at 1 us, 0.2/1.1 = 18% at 0.1 us: the METG lies just below 1 us, on every row.
  const double m = median["metg50_us"].get<double>();
  const double expected = std::exp(std::log(0.1) + (0.5 - 0.2 / 1.1) / (1.1 / 2 - 0.2 / 1.1) * std::log(10.0));
  EXPECT_NEAR(m, expected, 1e-9);
  EXPECT_EQ(row(doc, "cpu/threads/workers:2/concurrency:512/work_us:0.1")["metg50_us"], m);
  EXPECT_EQ(row(doc, "cpu/seq/workers:1/concurrency:1/work_us:0.1")["metg50_below_sweep"], 1);
}

TEST(Sweeps, WithoutTheSeqReferenceNothingIsComputed) {
  const auto runners = runners::make_runners();
  harness::selection sel;
  sel.workloads = {"cpu"};
  sel.runners = {"threads"};
  sel.filter = "work_us:1$";
  const auto cells = harness::build_matrix(sel, runners, 2);
  nlohmann::json doc = {{"benchmarks", rows_of("cpu/threads/workers:2/concurrency:512/work_us:1", {1e6}, 1)}};
  harness::add_sweep_results(doc, cells);
  EXPECT_FALSE(doc["benchmarks"][0].contains("efficiency"));
  EXPECT_FALSE(doc["benchmarks"][0].contains("metg50_us"));
  EXPECT_EQ(doc["benchmarks"][0]["sweeps"], nlohmann::json::array({"granularity"})) << "the tag says what it was for";
}
