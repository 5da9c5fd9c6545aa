#include "harness/reference.hpp"

#include "workloads/kernel.hpp"

namespace conpar::harness {

std::uint64_t reference_checksums::fold(const workloads::workload_spec& spec, std::uint64_t n) {
  auto& checkpoints = m_checkpoints[spec.key()];
  if (checkpoints.empty()) checkpoints.push_back(0);
  const auto sum_range = [&](std::uint64_t from, std::uint64_t to) {
    std::uint64_t sum = 0;
    for (std::uint64_t id = from; id < to; ++id) sum += workloads::expected_checksum(spec.make(id));
    return sum;
  };
  while ((checkpoints.size() - 1) * k_stride + k_stride <= n) {
    const std::uint64_t from = (checkpoints.size() - 1) * k_stride;
    checkpoints.push_back(checkpoints.back() + sum_range(from, from + k_stride));
  }
  const std::uint64_t base = (n / k_stride) * k_stride;
  return checkpoints[n / k_stride] + sum_range(base, n);
}

}  // namespace conpar::harness
