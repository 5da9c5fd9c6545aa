// Converts "microseconds of work" into kernel iterations for this machine, once per run.
#pragma once

#include <cstdint>

namespace conpar::workloads {

struct calibration {
  double iterations_per_us = 0;

  [[nodiscard]] std::uint64_t iterations_for(double micros) const noexcept;
};

// Times the kernel several times on the calling thread and keeps the fastest (least disturbed) trial.
[[nodiscard]] calibration calibrate();

}  // namespace conpar::workloads
