// Executes a request with blocking waits: the form used by the seq, threads and procs runners.
#pragma once

#include <chrono>
#include <cstdint>

#include "workloads/request.hpp"

namespace conpar::workloads {

// Runs every step of `r` on the calling thread, sleeping for waits; returns the request's checksum.
// No wait outlasts `limit` (the cell's watchdog deadline): one that would is cut off there and throws.
[[nodiscard]] std::uint64_t execute_blocking(
    const request& r, std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max());

}  // namespace conpar::workloads
