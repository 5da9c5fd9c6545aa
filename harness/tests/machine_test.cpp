// The machine's calibration figures that a baseline's absolute numbers are judged against (plots/baseline.py):
// each must be a real measurement, positive and finite, or every calibration would "match" or none would.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/core/machine.hpp"

namespace conpar::harness {
namespace {

// A generous ceiling: a broken timing (a loop optimised away, a clock read wrongly) is off by orders of magnitude.
void expect_measured(double value, double ceiling) {
  EXPECT_TRUE(std::isfinite(value)) << value;
  EXPECT_GT(value, 0);
  EXPECT_LT(value, ceiling);
}

TEST(machine_calibration, syscall_cost_is_positive_and_finite) { expect_measured(syscall_ns(), 1e6); }

TEST(machine_calibration, futex_round_trip_is_positive_and_finite) { expect_measured(futex_round_trip_us(), 1e5); }

TEST(machine_calibration, memcpy_bandwidth_is_positive_and_finite) {
  expect_measured(memcpy_gb_per_s(std::size_t{8} << 20), 1e4);
}

}  // namespace
}  // namespace conpar::harness
