#include <gtest/gtest.h>

#include "workloads/calibration.hpp"
#include "workloads/kernel.hpp"

using namespace conpar::workloads;

TEST(Kernel, DeterministicAndSensitiveToEveryInput) {
  EXPECT_EQ(compute_kernel(42, 1000), compute_kernel(42, 1000));
  EXPECT_NE(compute_kernel(42, 1000), compute_kernel(43, 1000));
  EXPECT_NE(compute_kernel(42, 1000), compute_kernel(42, 1001));
  EXPECT_NE(compute_kernel(0, 10), 0u) << "seed 0 must not collapse the xorshift state";
}

TEST(Kernel, MixIsABijectionOnSamples) {
  EXPECT_NE(mix(0), mix(1));
  EXPECT_EQ(mix(12345), mix(12345));
}

TEST(Calibration, MeasuresPositiveRateAndConvertsMicros) {
  const calibration cal = calibrate();
  EXPECT_GT(cal.iterations_per_us, 1.0);
  EXPECT_EQ(cal.iterations_for(0), 0u);
  EXPECT_EQ(cal.iterations_for(-5), 0u);
  EXPECT_NEAR(static_cast<double>(cal.iterations_for(100)), 100 * cal.iterations_per_us, 1.0);
}
