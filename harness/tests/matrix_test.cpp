#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "harness/matrix.hpp"
#include "runners/runner.hpp"

using namespace conpar;

namespace {

std::vector<std::string> names(const std::vector<harness::cell>& cells) {
  std::vector<std::string> out;
  for (const auto& c : cells) out.push_back(c.name);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

TEST(Matrix, DefaultSuiteCoversTheIssueCells) {
  const auto runners = runners::make_runners();
  const auto cells = names(harness::build_matrix({}, runners, 2));
  for (const char* runner : {"threads", "procs"})
    for (unsigned w : {1u, 2u, 4u})
      EXPECT_TRUE(has(cells, "cpu/" + std::string(runner) + "/workers:" + std::to_string(w) +
                                 "/concurrency:" + std::to_string(8 * w) + "/work_us:100"));
  EXPECT_TRUE(has(cells, "cpu/coro/workers:1/concurrency:16/work_us:100")) << "coro keeps one thread";
  EXPECT_TRUE(has(cells, "sleep/coro/workers:1/concurrency:10000/wait_us:10000"));
  EXPECT_TRUE(has(cells, "sleep/threads/workers:1000/concurrency:1000/wait_us:10000"));
  EXPECT_FALSE(has(cells, "sleep/threads/workers:10000/concurrency:10000/wait_us:10000")) << "capped";
  EXPECT_TRUE(has(cells, "mixed/procs/workers:16/concurrency:16/request_us:1000/cpu_share:0.9"));
  EXPECT_TRUE(has(cells, "cpu/seq/workers:1/concurrency:1/work_us:0"));
  EXPECT_TRUE(has(cells, "sleep/coro/workers:1/concurrency:100/rate_fraction:0.5/wait_us:10000"));
  EXPECT_FALSE(has(cells, "sleep/seq/workers:1/concurrency:1/rate_fraction:0.5/wait_us:10000"))
      << "seq's open loop is left to --rate-fraction";
  harness::selection seq_open;
  seq_open.workloads = {"sleep"};
  seq_open.runners = {"seq"};
  seq_open.rate_fractions = {0.5};
  EXPECT_TRUE(has(names(harness::build_matrix(seq_open, runners, 2)),
                  "sleep/seq/workers:1/concurrency:1/rate_fraction:0.5/wait_us:10000"));
  // work_us 0, and the granularity sweep's 11 sizes (100 among them, shared with the scaling curve).
  EXPECT_EQ(std::count_if(cells.begin(), cells.end(), [](const auto& n) { return n.rfind("cpu/seq/", 0) == 0; }), 12)
      << "seq runs once per parameter set";
}

TEST(Matrix, SweepsTagTheirCellsAndASharedCellCarriesEveryTag) {
  const auto runners = runners::make_runners();
  const auto cells = harness::build_matrix({}, runners, 2);
  const auto find = [&](const std::string& name) -> const harness::cell& {
    const auto it = std::find_if(cells.begin(), cells.end(), [&](const auto& c) { return c.name == name; });
    EXPECT_NE(it, cells.end()) << name;
    return *it;
  };
  using tags = std::vector<std::string>;
  // About 0.8 ms of work in flight per worker: 256 requests at 0.1 us, 8 from 100 us on.
  EXPECT_EQ(find("cpu/procs/workers:2/concurrency:512/work_us:0.1").sweeps, tags{"granularity"});
  EXPECT_EQ(find("cpu/procs/workers:2/concurrency:16/work_us:10000").sweeps, tags{"granularity"});
  // On the CPU-scaling curve (untagged) and in the granularity sweep: one cell, run once.
  EXPECT_EQ(find("cpu/threads/workers:2/concurrency:16/work_us:100").sweeps, tags{"granularity"});
  EXPECT_TRUE(find("cpu/threads/workers:4/concurrency:32/work_us:100").sweeps.empty());
  EXPECT_EQ(find("mixed/coro/workers:1/concurrency:16/request_us:1000/cpu_share:0").sweeps, tags{"crossover"});
  EXPECT_EQ(find("mixed/coro/workers:1/concurrency:16/request_us:1000/cpu_share:0.3").sweeps, tags{"crossover"});
  EXPECT_EQ(find("mixed/coro/workers:1/concurrency:16/request_us:1000/cpu_share:1").sweeps, tags{"crossover"});
  EXPECT_TRUE(find("mixed/coro/workers:1/concurrency:16/rate_fraction:0.5/request_us:1000/cpu_share:0.5").sweeps.empty());
}

TEST(Matrix, SelectionNarrowsAndOverrides) {
  const auto runners = runners::make_runners();
  harness::selection sel;
  sel.workloads = {"cpu"};
  sel.runners = {"threads"};
  sel.workers = {3};
  sel.params = {{"work_us", 7}};
  const auto cells = names(harness::build_matrix(sel, runners, 2));
  ASSERT_EQ(cells.size(), 1u);  // both cpu default points collapse to work_us:7 at workers 3
  EXPECT_EQ(cells[0], "cpu/threads/workers:3/concurrency:3/work_us:7");
  sel.filter = "procs";
  EXPECT_THROW((void)harness::build_matrix(sel, runners, 2), std::invalid_argument);
}

TEST(Matrix, BadSelectionsAreRejectedByName) {
  const auto runners = runners::make_runners();
  const auto message = [&](harness::selection sel) {
    try {
      (void)harness::build_matrix(sel, runners, 2);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({.workloads = {"nope"}}).find("unknown workload 'nope'"), std::string::npos);
  EXPECT_NE(message({.runners = {"nope"}}).find("unknown runner 'nope'"), std::string::npos);
  EXPECT_NE(message({.filter = "("}).find("invalid --filter regex"), std::string::npos);
  EXPECT_NE(message({.params = {{"nosuch", 1}}}).find("nosuch"), std::string::npos);
  EXPECT_NE(message({.workloads = {"sleep"}, .params = {{"wait_us", -1}}}).find("wait_us"), std::string::npos);
}

namespace {

std::string rejection(const harness::selection& sel) {
  try {
    (void)harness::build_matrix(sel, runners::make_runners(), 2);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

// Issue 16 #12, #13: an empty filter is bad input; a 100,000-character one is refused by its length (it overflowed
// std::regex's recursive compiler); a pathological one is matched in bounded time (it backtracked for minutes).
TEST(Matrix, FilterIsBoundedNonEmptyAndMatchedWithoutBacktracking) {
  harness::selection sel;
  sel.filter = "";
  EXPECT_NE(rejection(sel).find("it is empty"), std::string::npos) << rejection(sel);
  sel.filter = std::string(100000, 'a');
  EXPECT_NE(rejection(sel).find("100000 characters, more than the limit of 512"), std::string::npos);
  sel.filter = "cpu/seq/work_us{1,3}";
  EXPECT_NE(rejection(sel).find("counted repetition"), std::string::npos);
  sel.filter = "(cpu)\\1";
  EXPECT_NE(rejection(sel).find("back-reference"), std::string::npos) << rejection(sel);
  sel.filter = "cpu)|(sleep";  // invalid alone: it must not regroup the search wrapped around it
  EXPECT_NE(rejection(sel).find("invalid --filter regex"), std::string::npos) << rejection(sel);

  const auto runners = runners::make_runners();
  for (const std::string pathological : {std::string("(.*)*(.*)*z"), [] {
                                           std::string p;
                                           while (p.size() + 5 <= 511) p += "(.*)*";
                                           return p + "z";
                                         }()}) {
    sel.filter = pathological;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_NE(rejection(sel).find("matches no cell"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << pathological.size();
  }
  // Still a search, anchors included.
  sel.workloads = {"cpu"};
  sel.workers = {2};
  sel.params = {{"work_us", 100}};  // one cell per runner
  sel.filter = "threads";
  EXPECT_EQ(names(harness::build_matrix(sel, runners, 2)).size(), 1u);
  sel.filter = "^cpu/procs/.*work_us:100$";
  EXPECT_EQ(names(harness::build_matrix(sel, runners, 2)), std::vector<std::string>{"cpu/procs/workers:2/concurrency:2/work_us:100"});
  sel.filter = "^procs";
  EXPECT_NE(rejection(sel).find("matches no cell"), std::string::npos);
}

// Issue 16 #14: a worker level above the pools' cap was dropped from every pool runner without a word.
TEST(Matrix, WorkersAboveThePoolCapAreRefusedNamingTheCap) {
  for (const unsigned w : {runners::k_worker_pool_cap + 1, 4096u}) {
    const std::string why = rejection({.workers = {1, w}});
    EXPECT_NE(why.find("--workers " + std::to_string(w)), std::string::npos) << why;
    EXPECT_NE(why.find("1 to 1000 (the cap"), std::string::npos) << why;
  }
  EXPECT_NE(rejection({.workers = {0}}).find("--workers 0"), std::string::npos);
  EXPECT_EQ(rejection({.workloads = {"cpu"}, .runners = {"threads"}, .workers = {runners::k_worker_pool_cap}}), "accepted");
}
