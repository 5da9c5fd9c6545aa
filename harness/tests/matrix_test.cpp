#include <gtest/gtest.h>

#include <algorithm>
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
  EXPECT_EQ(std::count_if(cells.begin(), cells.end(), [](const auto& n) { return n.rfind("cpu/seq/", 0) == 0; }), 2)
      << "seq runs once per parameter set";
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
