// The memory workload's data: a large array per size, the same in every process, and the step that streams
// one slice of it (memory bandwidth, not the cores, is what runs out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "workloads/request.hpp"

namespace conpar::workloads {

// A stream step's argument: the array's size and the slice's, in KiB, packed into the step's 64 bits.
struct stream_shape {
  std::uint32_t array_kib = 0;
  std::uint32_t slice_kib = 0;

  [[nodiscard]] std::uint64_t pack() const noexcept { return std::uint64_t{array_kib} << 32 | slice_kib; }
  [[nodiscard]] static stream_shape unpack(std::uint64_t arg) noexcept {
    return {static_cast<std::uint32_t>(arg >> 32), static_cast<std::uint32_t>(arg)};
  }
  [[nodiscard]] std::size_t slices() const noexcept { return slice_kib == 0 ? 0 : array_kib / slice_kib; }
  [[nodiscard]] std::size_t slice_words() const noexcept { return std::size_t{slice_kib} * 1024 / sizeof(std::uint64_t); }
};

// Words are a fixed function of their index, and each slice's sum is kept: the reference checksum of a
// stream step costs a lookup, while the step itself must read the whole slice.
//
// The words live in a memfd, made and filled once (by the harness, before the worker processes fork, so
// they inherit the descriptor) and mapped read-only and shared by each process on its first stream step.
// So every process reads the same physical pages, as threads would, and a process's RSS holds the array
// only from its first memory cell on: the cells before, and the processes that never stream, are not
// charged for it. The maker unmaps its filling view, so the harness's own RSS grows only when it streams.
class memory_array {
 public:
  explicit memory_array(stream_shape shape);  // makes and fills the memfd; throws std::system_error
  memory_array(const memory_array&) = delete;
  memory_array& operator=(const memory_array&) = delete;
  ~memory_array();

  [[nodiscard]] stream_shape shape() const noexcept { return m_shape; }
  [[nodiscard]] std::uint64_t slice_sum(std::size_t i) const noexcept { return m_sums[i]; }
  // Maps the array into this process on first use (thread-safe); throws std::system_error.
  [[nodiscard]] const std::uint64_t* slice(std::size_t i) const;

 private:
  stream_shape m_shape;
  int m_fd = -1;
  std::vector<std::uint64_t> m_sums;
  mutable std::once_flag m_mapped;
  mutable const std::uint64_t* m_words = nullptr;
};

// This process's array of this shape, made on first use (from any thread; the others wait for it). A process
// forked before the harness made it (a test's worker pool) makes its own.
[[nodiscard]] const memory_array& memory_array_of(stream_shape shape);

// The slice a request streams: its own, by id.
[[nodiscard]] inline std::size_t slice_of(const request& r, stream_shape shape) noexcept {
  return static_cast<std::size_t>(r.id % shape.slices());
}

// The work of a stream step: the wrapping sum of the slice's words (vectorised: bound by memory bandwidth).
[[nodiscard]] std::uint64_t stream_sum(const std::uint64_t* words, std::size_t n) noexcept;

}  // namespace conpar::workloads
