// Out-of-line parts of latency_histogram: merge, quantiles and the JSON wire form.
#include "harness/core/latency_histogram.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace conpar::harness {

namespace {

// ceil(x) that ignores binary rounding noise in q (e.g. 0.07 * 100 == 7.000000000000001).
std::uint64_t tolerant_ceil(double x) noexcept {
    return static_cast<std::uint64_t>(std::ceil(x - std::abs(x) * 1e-12));
}

[[noreturn]] void fail(const std::string& what) {
    throw std::invalid_argument("latency_histogram::from_json: " + what);
}

std::uint64_t get_u64(const nlohmann::json& j, const char* what) {
    if (j.is_number_unsigned()) return j.get<std::uint64_t>();
    if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(j.get<std::int64_t>());
    fail(std::string(what) + " must be a non-negative integer, got " + j.dump());
}

const nlohmann::json& field(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
    return *it;
}

}  // namespace

void latency_histogram::merge(const latency_histogram& other) noexcept {
    for (std::size_t i = 0; i < k_bucket_count; ++i) m_counts[i] += other.m_counts[i];
    m_count += other.m_count;
    m_sum += other.m_sum;
    m_max = std::max(m_max, other.m_max);
    m_min_complement = std::max(m_min_complement, other.m_min_complement);
    m_clamped += other.m_clamped;
}

void latency_histogram::reset() noexcept { *this = latency_histogram{}; }

std::optional<std::uint64_t> latency_histogram::value_at_quantile(double q) const noexcept {
    if (!(q >= 0.0 && q <= 1.0) || m_count == 0) return std::nullopt;
    if (q > 0.5 && q < 1.0 && m_count < tolerant_ceil(1.0 / (1.0 - q))) return std::nullopt;
    if (q == 0.0) return min();
    if (q == 1.0) return m_max;

    const std::uint64_t rank = std::clamp<std::uint64_t>(tolerant_ceil(q * static_cast<double>(m_count)), 1, m_count);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < k_bucket_count; ++i) {
        seen += m_counts[i];
        if (seen >= rank) {
            // The top bucket also holds clamped values, so its only honest representative is max.
            const std::uint64_t upper = i == k_bucket_count - 1 ? m_max : std::min(bucket_upper(i), m_max);
            return std::max(upper, min());
        }
    }
    return m_max;  // unreachable while m_count equals the sum of bucket counts
}

nlohmann::json latency_histogram::to_json() const {
    nlohmann::json buckets = nlohmann::json::array();
    for (std::size_t i = 0; i < k_bucket_count; ++i) {
        if (m_counts[i] != 0) buckets.push_back({bucket_lower(i), bucket_upper(i), m_counts[i]});
    }
    return nlohmann::json{
        {"unit", "ns"},
        {"sub_buckets", k_sub_buckets},
        {"count", m_count},
        {"min", min()},
        {"max", m_max},
        {"sum", m_sum},
        {"clamped", m_clamped},
        {"buckets", std::move(buckets)},
    };
}

latency_histogram latency_histogram::from_json(const nlohmann::json& j) {
    if (!j.is_object()) fail("expected an object, got " + std::string(j.type_name()));
    const auto& unit = field(j, "unit");
    if (!unit.is_string() || unit.get<std::string>() != "ns") fail("\"unit\" must be \"ns\", got " + unit.dump());
    if (get_u64(field(j, "sub_buckets"), "\"sub_buckets\"") != k_sub_buckets) {
        fail("\"sub_buckets\" must be " + std::to_string(k_sub_buckets) + ", got " + field(j, "sub_buckets").dump());
    }

    latency_histogram h;
    h.m_count = get_u64(field(j, "count"), "\"count\"");
    const std::uint64_t min_v = get_u64(field(j, "min"), "\"min\"");
    h.m_max = get_u64(field(j, "max"), "\"max\"");
    h.m_sum = get_u64(field(j, "sum"), "\"sum\"");
    h.m_clamped = j.contains("clamped") ? get_u64(j["clamped"], "\"clamped\"") : 0;
    h.m_min_complement = h.m_count == 0 ? 0 : ~min_v;

    const auto& buckets = field(j, "buckets");
    if (!buckets.is_array()) fail("\"buckets\" must be an array");
    std::uint64_t total = 0;
    std::size_t first = k_bucket_count;
    std::size_t last = 0;
    for (std::size_t n = 0; n < buckets.size(); ++n) {
        const auto& b = buckets[n];
        const std::string where = "buckets[" + std::to_string(n) + "]";
        if (!b.is_array() || b.size() != 3) fail(where + " must be [lower_ns, upper_ns, count], got " + b.dump());
        const std::uint64_t lower = get_u64(b[0], (where + "[0]").c_str());
        const std::uint64_t upper = get_u64(b[1], (where + "[1]").c_str());
        const std::uint64_t c = get_u64(b[2], (where + "[2]").c_str());
        const std::size_t i = bucket_index(lower);
        if (bucket_lower(i) != lower || bucket_upper(i) != upper) {
            fail(where + " [" + std::to_string(lower) + ", " + std::to_string(upper) +
                 "] is not a bucket of this layout (expected [" + std::to_string(bucket_lower(i)) + ", " +
                 std::to_string(bucket_upper(i)) + "])");
        }
        if (first != k_bucket_count && i <= last) fail(where + " is out of order or duplicated");
        if (c == 0) fail(where + " has count 0 (sparse form lists non-empty buckets only)");
        if (first == k_bucket_count) first = i;
        last = i;
        h.m_counts[i] = c;
        total += c;
    }

    if (total != h.m_count) {
        fail("bucket counts sum to " + std::to_string(total) + " but \"count\" is " + std::to_string(h.m_count));
    }
    if (h.m_count == 0) {
        if (min_v != 0 || h.m_max != 0 || h.m_sum != 0 || h.m_clamped != 0) fail("empty histogram must have zero min/max/sum/clamped");
    } else {
        if (bucket_index(min_v) != first) fail("\"min\" does not lie in the first non-empty bucket");
        if (bucket_index(h.m_max) != last) fail("\"max\" does not lie in the last non-empty bucket");
        if (min_v > h.m_max) fail("\"min\" exceeds \"max\"");
        if (h.m_clamped > h.m_counts[k_bucket_count - 1]) fail("\"clamped\" exceeds the top bucket's count");
        if (h.m_clamped != 0 && h.m_max <= k_max_trackable) fail("\"clamped\" is non-zero but \"max\" is trackable");
    }
    return h;
}

}  // namespace conpar::harness
