// The tcp workload's blocking client: one connection per lane (a thread; in procs, a worker process), kept
// open across requests and cells, so a request pays its round trip and not a handshake.
#pragma once

#include <chrono>
#include <cstdint>

#include "workloads/request.hpp"

namespace conpar::workloads {

// Sends `r` to the server named by the tcp step's packed `arg` and reads the whole response; returns the sum
// of its words (response_digest when the server did its job). A read still waiting at `limit` throws.
[[nodiscard]] std::uint64_t tcp_round_trip_blocking(const request& r, std::uint64_t arg,
                                                    std::chrono::steady_clock::time_point limit);

}  // namespace conpar::workloads
