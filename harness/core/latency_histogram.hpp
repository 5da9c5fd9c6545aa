// Fixed-size log-linear latency histogram so per-request latencies are recorded in O(1) and merged exactly across threads/processes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace conpar::harness {

// HdrHistogram-style layout with 128 linear sub-buckets per power of two:
//   - values 0..255 each get their own bucket (exact);
//   - a value v with bit_width(v) = 8 + s (s >= 1) lies in a bucket of width 2^s
//     whose lower bound is >= 128 * 2^s.
// Error bound: a reported value r (bucket upper bound, clamped to [min, max]) for
// a true value v satisfies  v <= r  and  (r - v) / v <= (2^s - 1) / (128 * 2^s) < 1/128
// (0.78125 %), for every v <= k_max_trackable. Values above k_max_trackable are
// clamped into the top bucket (still counted, and max/sum stay exact).
//
// All state lives inline (no heap) and an all-zero object is a valid empty
// histogram, so it can live in freshly mmap'd shared memory.
class latency_histogram {
public:
    static constexpr unsigned k_sub_bucket_bits = 7;
    static constexpr std::size_t k_sub_buckets = std::size_t{1} << k_sub_bucket_bits;  // 128
    // Highest fully covered power of two: values in [2^40, 2^41) are still bucketed.
    static constexpr unsigned k_max_magnitude = 40;
    static constexpr std::uint64_t k_max_trackable = (std::uint64_t{1} << (k_max_magnitude + 1)) - 1;
    // 256 exact buckets, then 128 per magnitude 8..k_max_magnitude.
    static constexpr std::size_t k_bucket_count = (k_max_magnitude - k_sub_bucket_bits + 2) * k_sub_buckets;

    // Hot path: no allocation, no division, no data-dependent branches.
    void record(std::uint64_t ns) noexcept {
        ++m_counts[bucket_index(ns)];
        ++m_count;
        m_sum += ns;
        m_max = std::max(m_max, ns);
        m_min_complement = std::max(m_min_complement, ~ns);
        m_clamped += static_cast<std::uint64_t>(ns > k_max_trackable);
    }

    // Histograms from several threads/processes are merged, never averaged.
    void merge(const latency_histogram& other) noexcept;
    void reset() noexcept;

    std::uint64_t count() const noexcept { return m_count; }
    // 0 when empty.
    std::uint64_t min() const noexcept { return ~m_min_complement * static_cast<std::uint64_t>(m_count != 0); }
    std::uint64_t max() const noexcept { return m_max; }
    // Exact mean from the exact sum (sum wraps only after ~584 years of total latency); 0 when empty.
    double mean() const noexcept {
        return m_count == 0 ? 0.0 : static_cast<double>(m_sum) / static_cast<double>(m_count);
    }
    std::uint64_t sum() const noexcept { return m_sum; }
    // Number of recorded values above k_max_trackable (they sit in the top bucket).
    std::uint64_t clamped_count() const noexcept { return m_clamped; }
    std::uint64_t bucket_count_at(std::size_t i) const noexcept { return m_counts[i]; }

    // Nearest-rank quantile: a representative of the bucket holding the
    // ceil(q * count)-th smallest sample (rank at least 1), namely the bucket's
    // upper bound clamped to [min, max] (top bucket: max, since clamped values
    // live there). q == 0 returns min exactly and q == 1 returns max exactly.
    //
    // Returns nullopt when q is not in [0, 1] (or NaN), or when there are too few
    // samples for the quantile to say more than "the max":
    //   - q in (0.5, 1): requires count >= ceil(1 / (1 - q)), i.e. at least one
    //     sample is expected above the quantile (p99 needs 100, p99.9 needs 1000);
    //   - q <= 0.5 or q == 1: requires count >= 1.
    std::optional<std::uint64_t> value_at_quantile(double q) const noexcept;

    // Bucket holding ns (values above k_max_trackable map to the top bucket).
    static constexpr std::size_t bucket_index(std::uint64_t ns) noexcept {
        const std::uint64_t v = std::min(ns, k_max_trackable);
        // 0 for v < 256, else bit_width(v) - 8: the sub-bucket width is 2^shift.
        // OR-ing in the low bits keeps the argument non-zero, so no zero special case is emitted.
        const auto shift = static_cast<unsigned>(std::bit_width(v | ((k_sub_buckets << 1) - 1))) - (k_sub_bucket_bits + 1);
        return (std::size_t{shift} << k_sub_bucket_bits) + static_cast<std::size_t>(v >> shift);
    }
    // Smallest value mapped to bucket i (i < k_bucket_count).
    static constexpr std::uint64_t bucket_lower(std::size_t i) noexcept {
        if (i < k_sub_buckets) return i;
        const unsigned shift = static_cast<unsigned>(i >> k_sub_bucket_bits) - 1;
        return (static_cast<std::uint64_t>(i & (k_sub_buckets - 1)) | k_sub_buckets) << shift;
    }
    // Largest value mapped to bucket i, inclusive (i < k_bucket_count).
    static constexpr std::uint64_t bucket_upper(std::size_t i) noexcept {
        if (i < k_sub_buckets) return i;
        const unsigned shift = static_cast<unsigned>(i >> k_sub_bucket_bits) - 1;
        return bucket_lower(i) + ((std::uint64_t{1} << shift) - 1);
    }

    // Sparse form: {"unit":"ns","sub_buckets":128,"count","min","max","sum","clamped",
    //               "buckets":[[lower_ns, upper_ns_inclusive, count], ...]} (non-empty only).
    nlohmann::json to_json() const;
    // Exact inverse of to_json ("clamped" may be omitted: 0). Throws
    // std::invalid_argument on malformed or inconsistent input.
    static latency_histogram from_json(const nlohmann::json& j);

    friend bool operator==(const latency_histogram&, const latency_histogram&) = default;

private:
    std::array<std::uint64_t, k_bucket_count> m_counts{};
    std::uint64_t m_count = 0;
    std::uint64_t m_sum = 0;
    std::uint64_t m_max = 0;
    // ~min, so that zero means "no samples" and min is a branchless max().
    std::uint64_t m_min_complement = 0;
    std::uint64_t m_clamped = 0;
};

static_assert(std::is_trivially_copyable_v<latency_histogram>);
static_assert(std::is_standard_layout_v<latency_histogram>);
static_assert(latency_histogram::bucket_index(latency_histogram::k_max_trackable) ==
              latency_histogram::k_bucket_count - 1);
static_assert(latency_histogram::bucket_upper(latency_histogram::k_bucket_count - 1) ==
              latency_histogram::k_max_trackable);
static_assert(latency_histogram::bucket_index(255) == 255 && latency_histogram::bucket_index(256) == 256);

}  // namespace conpar::harness
