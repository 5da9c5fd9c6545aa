// Executes a request with blocking waits: the form used by the seq, threads and procs runners.
#pragma once

#include <cstdint>

#include "workloads/request.hpp"

namespace conpar::workloads {

// Runs every step of `r` on the calling thread, sleeping for waits; returns the request's checksum.
[[nodiscard]] std::uint64_t execute_blocking(const request& r);

}  // namespace conpar::workloads
