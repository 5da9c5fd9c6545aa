// Issue 13 #2 and #3: repetitions interleaved in seeded rounds, and the median's distribution-free interval.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "harness/aggregates.hpp"
#include "harness/rounds.hpp"

using namespace conpar;

namespace {

std::vector<harness::cell> some_cells() {
  std::vector<harness::cell> cells(6);
  for (std::size_t i = 0; i < cells.size(); ++i) cells[i].name = "c" + std::to_string(i);
  cells[4].rate_fraction = 0.5;  // needs c0's peak
  cells[4].peak_cell = "c0";
  cells[5].rate = 100;  // an absolute rate needs no peak
  return cells;
}

}  // namespace

TEST(Rounds, EveryCellRunsItsRoundBeforeAnyRunsTheNextAndPeaksComeFirst) {
  const auto cells = some_cells();
  const auto rounds = harness::interleaved_rounds(cells, 5, 7);
  ASSERT_EQ(rounds.size(), 10u) << "5 rounds of the cells that need no peak, then 5 of the open-loop fractions";
  for (std::size_t r = 0; r < 5; ++r) {
    EXPECT_EQ(std::set<std::size_t>(rounds[r].begin(), rounds[r].end()), (std::set<std::size_t>{0, 1, 2, 3, 5}));
    EXPECT_EQ(rounds[5 + r], std::vector<std::size_t>{4});
  }
  std::set<std::vector<std::size_t>> orders(rounds.begin(), rounds.begin() + 5);
  EXPECT_GT(orders.size(), 1u) << "the order is shuffled per round";
  EXPECT_EQ(harness::interleaved_rounds(cells, 5, 7), rounds) << "the seed names the order";
  EXPECT_NE(harness::interleaved_rounds(cells, 5, 8), rounds);
}

TEST(Rounds, RowsComeTogetherPerCellInTheCellsOrderNumberedByRepetition) {
  const auto cells = some_cells();
  harness::round_rows rows(cells, 2);
  const auto row = [](const char* name, double rate) {
    return nlohmann::json{{"name", std::string(name) + "/manual_time"}, {"run_name", std::string(name) + "/manual_time"},
                          {"run_type", "iteration"}, {"repetition_index", 0}, {"family_index", 9},
                          {"items_per_second", rate}};
  };
  rows.add(nlohmann::json::array({row("c3", 1), row("c1", 2)}));
  rows.add(nlohmann::json::array({row("c1", 3), row("c3", 4)}));
  const auto b = rows.benchmarks();
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0]["items_per_second"], 2);
  EXPECT_EQ(b[1]["items_per_second"], 3);
  EXPECT_EQ(b[1]["repetition_index"], 1);
  EXPECT_EQ(b[1]["family_index"], 1) << "the cell's index, not the shuffled registration's";
  EXPECT_EQ(b[2]["items_per_second"], 1);
  EXPECT_EQ(b[3]["repetitions"], 2);
  EXPECT_THROW(rows.add(nlohmann::json::array({row("nobody", 1)})), std::logic_error);
}

TEST(Aggregates, TheMediansIntervalIsTheWidestOrderStatisticPairThatCovers95Percent) {
  EXPECT_EQ(harness::interval_for(1).k, 0u) << "one sample: no interval";
  EXPECT_DOUBLE_EQ(harness::interval_for(2).coverage, 0.5);
  EXPECT_DOUBLE_EQ(harness::interval_for(5).coverage, 0.9375) << "5 samples never reach 95%: the range";
  EXPECT_EQ(harness::interval_for(5).k, 1u);
  EXPECT_DOUBLE_EQ(harness::interval_for(6).coverage, 0.96875);
  EXPECT_EQ(harness::interval_for(8).k, 1u) << "[x(2), x(7)] of 8 covers 92.97%";
  EXPECT_EQ(harness::interval_for(9).k, 2u);
  EXPECT_NEAR(harness::interval_for(9).coverage, 0.9609, 1e-4);
  EXPECT_EQ(harness::interval_for(10).k, 2u);
  EXPECT_NEAR(harness::interval_for(10).coverage, 0.9785, 1e-4);
  EXPECT_EQ(harness::interval_for(30).k, 10u);  // the textbook table: [x(10), x(21)] for n = 30
}

TEST(Aggregates, OnlyRunsWithTwoSuccessfulRepetitionsGetAggregatesAndTheIntervalBracketsTheMedian) {
  nlohmann::json rows = nlohmann::json::array();
  for (int i = 0; i < 6; ++i)
    rows.push_back({{"run_name", "a"}, {"run_type", "iteration"}, {"repetition_index", i}, {"x", 10.0 + i}});
  rows.push_back({{"run_name", "b"}, {"run_type", "iteration"}, {"x", 1.0}});
  rows.push_back({{"run_name", "b"}, {"run_type", "iteration"}, {"error_occurred", true}});
  harness::add_aggregates(rows);
  ASSERT_EQ(rows.size(), 6u + 6u + 2u) << "b has one success: no aggregates";
  EXPECT_EQ(rows[6]["name"], "a_mean");
  EXPECT_DOUBLE_EQ(rows[7]["x"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(rows[10]["x"].get<double>(), 10) << "ci_low";
  EXPECT_DOUBLE_EQ(rows[11]["x"].get<double>(), 15) << "ci_high";
  EXPECT_FALSE(rows[7].contains("repetition_index")) << "bookkeeping is not aggregated";
  EXPECT_EQ(rows[12]["run_name"], "b");
}
