// The tcp workload's wire format, shared by our server and both clients: a 16-byte request, and a response
// of response_bytes whose content the client sums into the request's checksum.
#pragma once

#include <cstdint>
#include <type_traits>

#include "workloads/kernel.hpp"

namespace conpar::workloads {

// What a tcp step packs into its 64-bit arg: the server's port, its service delay and the response size.
// The port travels with the request, so a worker process forked before the server started still finds it.
struct tcp_shape {
  std::uint16_t port = 0;
  std::uint32_t delay_us = 0;        // < 2^24 (16.7 s)
  std::uint32_t response_bytes = 0;  // a multiple of 8, < 2^24 (16 MiB)

  static constexpr std::uint32_t k_max_field = (1u << 24) - 1;
  [[nodiscard]] constexpr std::uint64_t pack() const noexcept {
    return std::uint64_t{port} | std::uint64_t{delay_us} << 16 | std::uint64_t{response_bytes} << 40;
  }
  [[nodiscard]] static constexpr tcp_shape unpack(std::uint64_t arg) noexcept {
    return {static_cast<std::uint16_t>(arg & 0xffff), static_cast<std::uint32_t>((arg >> 16) & k_max_field),
            static_cast<std::uint32_t>(arg >> 40)};
  }
};

// On the wire, in host byte order (both ends are this machine, over loopback).
struct tcp_message {
  std::uint64_t id;
  std::uint32_t delay_us;
  std::uint32_t response_bytes;
};
static_assert(sizeof(tcp_message) == 16 && std::is_trivially_copyable_v<tcp_message>);

// Word k of request `id`'s response. The server writes these; the client adds up what it received.
[[nodiscard]] constexpr std::uint64_t response_word(std::uint64_t id, std::uint64_t k) noexcept { return mix(id) + k; }

// The sum of a whole response's words in closed form (mod 2^64): what the reference expects without a server.
[[nodiscard]] constexpr std::uint64_t response_digest(std::uint64_t id, std::uint32_t response_bytes) noexcept {
  const std::uint64_t n = response_bytes / 8;
  const std::uint64_t pairs = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);  // n(n-1)/2 without overflow
  return n * mix(id) + pairs;
}

[[nodiscard]] inline std::uint64_t fold_tcp(std::uint64_t acc, std::uint64_t digest) noexcept { return mix(acc ^ digest); }

}  // namespace conpar::workloads
