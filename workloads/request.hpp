// A request is plain data, so every runner (a shared-memory queue included) can carry it unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

namespace conpar::workloads {

// `stream` reads the request's own slice of a large array (workloads/memory.hpp); `tcp` is one request/response
// over loopback TCP to our server (workloads/tcp_server.hpp). `fail` and `stall` exist to
// test the runners' error paths: the request whose id equals the step's arg throws (`fail`) or waits without
// end, like a remote call that never answers (`stall`).
enum class step_kind : std::uint8_t { none = 0, compute, wait, fail, stall, stream, tcp };

struct step {
  step_kind kind = step_kind::none;
  // compute: kernel iterations; wait: microseconds; stream: a packed stream_shape; tcp: a packed tcp_shape;
  // fail, stall: the id of the request they hit.
  std::uint64_t arg = 0;
};

// Three steps cover compute, wait, compute (the `mixed` request); raise it when a workload needs more.
inline constexpr std::size_t k_max_steps = 3;

struct request {
  std::uint64_t id = 0;
  std::array<step, k_max_steps> steps{};
};

static_assert(std::is_trivially_copyable_v<request>, "requests cross shared-memory queues by memcpy");
static_assert(sizeof(request) == 56, "keep requests small: they are copied on every hop");

}  // namespace conpar::workloads
