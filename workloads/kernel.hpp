// The deterministic CPU kernel and checksum folds that every runner shares, so all runners do identical work.
#pragma once

#include <cstdint>

#include "workloads/request.hpp"

namespace conpar::workloads {

// splitmix64's finaliser: a cheap bijective mix, so equal folds mean equal work with high probability.
[[nodiscard]] constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// A serial dependency chain (xorshift then multiply): it cannot be vectorised or skipped, so the time
// it takes is proportional to `iterations` on any core, and its result proves the work was done.
[[nodiscard]] std::uint64_t compute_kernel(std::uint64_t seed, std::uint64_t iterations) noexcept;

// The per-step folds: the ONLY definition of what a step contributes to a request's checksum.
[[nodiscard]] inline std::uint64_t fold_start(const request& r) noexcept { return mix(r.id + 0x9e3779b97f4a7c15ULL); }
[[nodiscard]] inline std::uint64_t fold_compute(std::uint64_t acc, std::uint64_t iterations) noexcept {
  return mix(acc ^ compute_kernel(acc, iterations));
}
[[nodiscard]] inline std::uint64_t fold_wait(std::uint64_t acc, std::uint64_t micros) noexcept {
  return mix(acc + micros);
}
[[nodiscard]] inline std::uint64_t fold_stream(std::uint64_t acc, std::uint64_t slice_sum) noexcept {
  return mix(acc ^ slice_sum);
}
// A stream step: reads the request's slice of its array and folds the sum in.
[[nodiscard]] std::uint64_t run_stream(const request& r, std::uint64_t acc, std::uint64_t arg);

// The test-only extra kernel work of this build in percent (0 normally; 5 in the `planted` preset), for
// the results' context: a planted build must never pass for a normal one.
[[nodiscard]] int planted_slowdown_percent() noexcept;

// The planted failure of step_kind::fail: throws std::runtime_error naming the request when it is due.
void fail_if_due(const request& r, std::uint64_t failing_id);

// A stalled request waits this long: in effect until the cell's watchdog cuts its wait off.
inline constexpr std::uint64_t k_stall_us = 3'600'000'000;
[[nodiscard]] inline std::uint64_t stall_us(const request& r, std::uint64_t stalling_id) noexcept {
  return r.id == stalling_id ? k_stall_us : 0;
}
// Thrown by a wait that reached the cell's deadline (load_driver::deadline()) before its own end.
[[noreturn]] void throw_cut_off(const request& r);

// What a request's checksum must be, computed without waiting: the sequential reference.
[[nodiscard]] std::uint64_t expected_checksum(const request& r);

}  // namespace conpar::workloads
