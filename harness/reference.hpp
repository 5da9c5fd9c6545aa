// The sequential reference: the checksum fold a correct run of requests 0..n-1 must produce.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/workload.hpp"

namespace conpar::harness {

class reference_checksums {
 public:
  // Fold of expected_checksum over ids [0, n), computed once per request stream and reused by every cell
  // and repetition of that stream.
  [[nodiscard]] std::uint64_t fold(const workloads::workload_spec& spec, std::uint64_t n);

 private:
  // Checkpoints every k_stride ids keep memory at 1/64 of a dense prefix table (a 20 M-request cell
  // stays under 3 MB) at the price of recomputing at most 63 requests per lookup.
  static constexpr std::uint64_t k_stride = 64;
  std::map<std::string, std::vector<std::uint64_t>> m_checkpoints;  // [i] = fold of ids [0, i * k_stride)
};

}  // namespace conpar::harness
