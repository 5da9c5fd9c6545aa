#include "workloads/kernel.hpp"

#include "workloads/memory.hpp"
#include "workloads/tcp_protocol.hpp"

#include <stdexcept>
#include <string>

namespace conpar::workloads {

std::uint64_t compute_kernel(std::uint64_t seed, std::uint64_t iterations) noexcept {
  std::uint64_t x = seed ^ 0x9e3779b97f4a7c15ULL;
  x += (x == 0);  // xorshift must not start at 0
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x *= 0x2545f4914f6cdd1dULL;
  }
  return x;
}

int planted_slowdown_percent() noexcept {
#ifdef CONPAR_PLANTED_SLOWDOWN_PERCENT
  return CONPAR_PLANTED_SLOWDOWN_PERCENT;
#else
  return 0;
#endif
}

void fail_if_due(const request& r, std::uint64_t failing_id) {
  if (r.id == failing_id) throw std::runtime_error("request " + std::to_string(r.id) + " failed (planted fault)");
}

void throw_cut_off(const request& r) {
  throw std::runtime_error("watchdog: request " + std::to_string(r.id) +
                           " was still waiting at the cell's deadline (--cell-timeout after its window) and was cut off");
}

std::uint64_t run_stream(const request& r, std::uint64_t acc, std::uint64_t arg) {
  const auto shape = stream_shape::unpack(arg);
  const memory_array& a = memory_array_of(shape);
  return fold_stream(acc, stream_sum(a.slice(slice_of(r, shape)), shape.slice_words()));
}

std::uint64_t expected_checksum(const request& r) {
  std::uint64_t acc = fold_start(r);
  for (const step& s : r.steps) {
    if (s.kind == step_kind::compute) acc = fold_compute(acc, s.arg);
    if (s.kind == step_kind::wait) acc = fold_wait(acc, s.arg);
    if (s.kind == step_kind::stream) {  // the slice's sum as the array's maker computed it, not read again
      const auto shape = stream_shape::unpack(s.arg);
      acc = fold_stream(acc, memory_array_of(shape).slice_sum(slice_of(r, shape)));
    }
    if (s.kind == step_kind::tcp) acc = fold_tcp(acc, response_digest(r.id, tcp_shape::unpack(s.arg).response_bytes));
  }
  return acc;
}

}  // namespace conpar::workloads
