// generator<T>: lazy, in order, once; the body's exception reaches the caller; a generator dropped half-way destroys
// its suspended body.
#include "runners/generator.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using conpar::runners::generator;

generator<int> count_to(int n, int& ran) {
  for (int i = 1; i <= n; ++i) {
    ++ran;
    co_yield i;
  }
}

TEST(Generator, YieldsInOrderAndRunsOnlyWhenPulled) {
  int ran = 0;
  auto g = count_to(3, ran);
  EXPECT_EQ(ran, 0) << "lazy: nothing runs before begin()";
  auto it = g.begin();
  EXPECT_EQ(ran, 1);
  ASSERT_NE(it, g.end());
  EXPECT_EQ(*it, 1);
  ++it;
  EXPECT_EQ(ran, 2) << "one step per pull";
  std::vector<int> rest;
  for (; it != g.end(); ++it) rest.push_back(*it);
  EXPECT_EQ(rest, (std::vector<int>{2, 3}));
  EXPECT_EQ(ran, 3);
}

TEST(Generator, RangeForAndAnEmptyBody) {
  int ran = 0;
  std::vector<int> seen;
  for (const int v : count_to(4, ran)) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
  auto none = count_to(0, ran);
  EXPECT_EQ(none.begin(), none.end());
}

generator<std::string> fails_after(int n) {
  for (int i = 0; i < n; ++i) co_yield std::to_string(i);
  throw std::runtime_error("generator body failed");
}

TEST(Generator, TheBodysExceptionComesOutOfThePull) {
  auto g = fails_after(1);
  auto it = g.begin();
  EXPECT_EQ(*it, "0");
  EXPECT_THROW(++it, std::runtime_error);
  auto at_once = fails_after(0);
  EXPECT_THROW((void)at_once.begin(), std::runtime_error);
}

// Counts its live instances: the body's locals must be destroyed with the generator.
struct probe {
  explicit probe(int& live) : m_live(live) { ++m_live; }
  ~probe() { --m_live; }
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;
  int& m_live;
};

generator<int> holding(int& live) {
  const probe p(live);
  for (int i = 0;; ++i) co_yield i;  // endless: it only ends when it is destroyed
}

TEST(Generator, DroppingItHalfWayDestroysTheSuspendedBody) {
  int live = 0;
  {
    auto g = holding(live);
    auto it = g.begin();
    ++it;
    EXPECT_EQ(*it, 1);
    EXPECT_EQ(live, 1);
    auto moved = std::move(g);  // the frame moves with it, and is destroyed once
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(live, 0);
}

TEST(Generator, YieldsCopiesSoTheBodyMayReuseItsVariable) {
  const auto reuse = []() -> generator<std::vector<int>> {
    std::vector<int> v;
    for (int i = 0; i < 3; ++i) {
      v.push_back(i);
      co_yield v;
    }
  };
  std::vector<std::size_t> sizes;
  for (const auto& v : reuse()) sizes.push_back(v.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 2, 3}));
}

}  // namespace
