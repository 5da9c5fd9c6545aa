// Executes a request with blocking waits: the form used by the seq, threads and procs runners.
#pragma once

#include <chrono>
#include <cstdint>

#include "workloads/kernel.hpp"
#include "workloads/request.hpp"

namespace conpar::workloads {

// Runs steps [first, last) of `r` on the calling thread, sleeping for waits, folding each into `acc`; returns the
// new fold. A pipeline's stage runs its one step this way and hands the fold on to the next stage.
// No wait outlasts `limit` (the cell's watchdog deadline): one that would is cut off there and throws.
[[nodiscard]] std::uint64_t execute_steps_blocking(
    const request& r, std::uint64_t acc, std::size_t first, std::size_t last,
    std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());

// Runs every step of `r`; returns the request's checksum.
[[nodiscard]] inline std::uint64_t execute_blocking(
    const request& r, std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max()) {
  return execute_steps_blocking(r, fold_start(r), 0, k_max_steps, limit);
}

}  // namespace conpar::workloads
