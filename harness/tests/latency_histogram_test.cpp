// Checks latency_histogram's bucket layout, error bound, quantiles, merge and JSON form against raw samples.
#include "harness/core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using conpar::harness::latency_histogram;

constexpr std::uint64_t k_top = latency_histogram::k_max_trackable;
const std::vector<double> k_quantiles = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0};

// Reported value r for true value v: v <= r and (r - v) / v < 1/128 (v == 0 must be exact).
::testing::AssertionResult within_bound(std::uint64_t reported, std::uint64_t truth) {
    if (reported < truth) return ::testing::AssertionFailure() << reported << " < true " << truth;
    if ((reported - truth) * 128 >= truth && reported != truth) {
        return ::testing::AssertionFailure() << reported << " vs true " << truth << ": relative error "
                                             << static_cast<double>(reported - truth) / static_cast<double>(truth);
    }
    return ::testing::AssertionSuccess();
}

// Nearest-rank quantile of raw samples, with the same rank rule as the histogram.
std::uint64_t exact_quantile(std::vector<std::uint64_t> sorted, double q) {
    std::sort(sorted.begin(), sorted.end());
    const double x = q * static_cast<double>(sorted.size());
    auto rank = static_cast<std::uint64_t>(std::ceil(x - x * 1e-12));
    rank = std::clamp<std::uint64_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

latency_histogram histogram_of(const std::vector<std::uint64_t>& samples) {
    latency_histogram h;
    for (auto v : samples) h.record(v);
    return h;
}

void expect_quantiles_match(const std::vector<std::uint64_t>& samples) {
    const latency_histogram h = histogram_of(samples);
    std::vector<std::uint64_t> sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    for (double q : k_quantiles) {
        const auto got = h.value_at_quantile(q);
        ASSERT_TRUE(got.has_value()) << "q=" << q;
        const std::uint64_t want = exact_quantile(sorted, q);
        EXPECT_TRUE(within_bound(*got, want)) << "q=" << q;
    }
    EXPECT_EQ(*h.value_at_quantile(0.0), sorted.front());
    EXPECT_EQ(*h.value_at_quantile(1.0), sorted.back());
}

TEST(LatencyHistogram, SmallValuesAreExact) {
    latency_histogram h;
    for (std::uint64_t v = 0; v < 256; ++v) {
        EXPECT_EQ(latency_histogram::bucket_index(v), v);
        EXPECT_EQ(latency_histogram::bucket_lower(v), v);
        EXPECT_EQ(latency_histogram::bucket_upper(v), v);
        h.record(v);
    }
    for (std::uint64_t v = 0; v < 256; ++v) EXPECT_EQ(h.bucket_count_at(v), 1U);
    EXPECT_EQ(*h.value_at_quantile(0.5), 127U);  // rank 128 of 0..255
    EXPECT_EQ(*h.value_at_quantile(0.25), 63U);
}

TEST(LatencyHistogram, NearestRankIgnoresBinaryNoiseInQ) {
    latency_histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    // 0.07 * 100 == 7.000000000000001 in double; the 7th smallest is still 7.
    EXPECT_EQ(h.value_at_quantile(0.07), 7U);
    EXPECT_EQ(h.value_at_quantile(0.99), 99U);
    EXPECT_EQ(h.value_at_quantile(0.5), 50U);
    EXPECT_EQ(h.value_at_quantile(0.505), 51U);
}

TEST(LatencyHistogram, BucketLayoutIsContiguous) {
    EXPECT_EQ(latency_histogram::bucket_lower(0), 0U);
    for (std::size_t i = 0; i < latency_histogram::k_bucket_count; ++i) {
        const auto lo = latency_histogram::bucket_lower(i);
        const auto hi = latency_histogram::bucket_upper(i);
        ASSERT_LE(lo, hi);
        ASSERT_EQ(latency_histogram::bucket_index(lo), i);
        ASSERT_EQ(latency_histogram::bucket_index(hi), i);
        if (i + 1 < latency_histogram::k_bucket_count) {
            ASSERT_EQ(latency_histogram::bucket_lower(i + 1), hi + 1);
        }
    }
    EXPECT_EQ(latency_histogram::bucket_upper(latency_histogram::k_bucket_count - 1), k_top);
    EXPECT_GE(k_top, std::uint64_t{1} << 40);
}

TEST(LatencyHistogram, RelativeErrorBoundSweep) {
    std::mt19937_64 rng(12345);
    std::vector<std::uint64_t> values;
    for (unsigned k = 0; k <= 40; ++k) {
        const std::uint64_t p = std::uint64_t{1} << k;
        values.insert(values.end(), {p - 1, p, p + 1, 2 * p - 1});
        std::uniform_int_distribution<std::uint64_t> in_mag(p, 2 * p - 1);
        for (int n = 0; n < 2000; ++n) values.push_back(in_mag(rng));
    }
    values.push_back(k_top);
    double worst = 0;
    for (auto v : values) {
        const auto i = latency_histogram::bucket_index(v);
        ASSERT_LE(latency_histogram::bucket_lower(i), v);
        const auto reported = latency_histogram::bucket_upper(i);
        ASSERT_TRUE(within_bound(reported, v)) << "v=" << v;
        if (v > 0) worst = std::max(worst, static_cast<double>(reported - v) / static_cast<double>(v));
    }
    EXPECT_LT(worst, 1.0 / 128);
    EXPECT_GT(worst, 0.0077);  // the bound is tight: worst case approaches 1/128 at magnitude starts
}

TEST(LatencyHistogram, QuantilesMatchUniform) {
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<std::uint64_t> d(1'000, 10'000'000);
    std::vector<std::uint64_t> s(100'000);
    for (auto& v : s) v = d(rng);
    expect_quantiles_match(s);
}

TEST(LatencyHistogram, QuantilesMatchExponential) {
    std::mt19937_64 rng(2);
    std::exponential_distribution<double> d(1.0 / 50'000.0);  // mean 50 us
    std::vector<std::uint64_t> s(100'000);
    for (auto& v : s) v = static_cast<std::uint64_t>(d(rng));
    expect_quantiles_match(s);
}

TEST(LatencyHistogram, QuantilesMatchBimodal) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> fast(20'000.0, 2'000.0);     // cache hit ~20 us
    std::normal_distribution<double> slow(5'000'000.0, 500'000.0);  // miss ~5 ms
    std::bernoulli_distribution is_slow(0.05);
    std::vector<std::uint64_t> s(100'000);
    for (auto& v : s) v = static_cast<std::uint64_t>(std::max(0.0, is_slow(rng) ? slow(rng) : fast(rng)));
    expect_quantiles_match(s);
}

TEST(LatencyHistogram, QuantilesMatchWideLogUniform) {
    std::mt19937_64 rng(4);
    std::uniform_real_distribution<double> e(0.0, 40.0);
    std::vector<std::uint64_t> s(50'000);
    for (auto& v : s) v = static_cast<std::uint64_t>(std::exp2(e(rng)));
    expect_quantiles_match(s);
}

TEST(LatencyHistogram, MeanIsExact) {
    latency_histogram h;
    h.record(1);
    h.record(2);
    h.record(1'000'000'007);
    EXPECT_EQ(h.sum(), 1'000'000'010U);
    EXPECT_DOUBLE_EQ(h.mean(), 1'000'000'010.0 / 3);
    EXPECT_EQ(h.min(), 1U);
    EXPECT_EQ(h.max(), 1'000'000'007U);
}

TEST(LatencyHistogram, MergeEqualsHistogramOfUnion) {
    std::mt19937_64 rng(5);
    std::exponential_distribution<double> d(1.0 / 1e6);
    std::vector<std::uint64_t> a(30'000), b(20'000);
    for (auto& v : a) v = static_cast<std::uint64_t>(d(rng));
    for (auto& v : b) v = static_cast<std::uint64_t>(d(rng) * 7) + 500;
    b.push_back(std::uint64_t{1} << 50);  // a clamped value travels with the merge too

    latency_histogram merged = histogram_of(a);
    merged.merge(histogram_of(b));
    std::vector<std::uint64_t> all = a;
    all.insert(all.end(), b.begin(), b.end());
    const latency_histogram direct = histogram_of(all);

    EXPECT_EQ(merged, direct);
    EXPECT_EQ(merged.count(), all.size());
    EXPECT_EQ(merged.min(), *std::min_element(all.begin(), all.end()));
    EXPECT_EQ(merged.max(), *std::max_element(all.begin(), all.end()));
    EXPECT_EQ(merged.clamped_count(), 1U);
    for (double q : k_quantiles) EXPECT_EQ(merged.value_at_quantile(q), direct.value_at_quantile(q)) << q;
}

TEST(LatencyHistogram, MergeWithEmptyKeepsMinMax) {
    latency_histogram h;
    h.record(500);
    h.record(900);
    latency_histogram empty;
    h.merge(empty);
    EXPECT_EQ(h.min(), 500U);
    EXPECT_EQ(h.max(), 900U);
    empty.merge(h);
    EXPECT_EQ(empty, h);
}

TEST(LatencyHistogram, TooFewSamplesGivesNullopt) {
    latency_histogram h;
    for (int i = 1; i <= 99; ++i) h.record(static_cast<std::uint64_t>(i) * 1000);
    EXPECT_FALSE(h.value_at_quantile(0.99).has_value());
    EXPECT_TRUE(h.value_at_quantile(0.9).has_value());
    h.record(100'000);
    ASSERT_TRUE(h.value_at_quantile(0.99).has_value());
    EXPECT_TRUE(within_bound(*h.value_at_quantile(0.99), 99'000));
    EXPECT_FALSE(h.value_at_quantile(0.999).has_value());

    latency_histogram g;
    for (int i = 0; i < 999; ++i) g.record(10);
    EXPECT_FALSE(g.value_at_quantile(0.999).has_value());
    g.record(10);
    EXPECT_EQ(g.value_at_quantile(0.999), 10U);

    latency_histogram one;
    one.record(12'345);
    EXPECT_EQ(one.value_at_quantile(0.0), 12'345U);
    EXPECT_EQ(one.value_at_quantile(0.5), 12'345U);
    EXPECT_EQ(one.value_at_quantile(1.0), 12'345U);
    EXPECT_FALSE(one.value_at_quantile(0.75).has_value());  // needs 4
}

TEST(LatencyHistogram, InvalidQuantileGivesNullopt) {
    latency_histogram h;
    for (int i = 0; i < 1000; ++i) h.record(7);
    EXPECT_FALSE(h.value_at_quantile(-0.01).has_value());
    EXPECT_FALSE(h.value_at_quantile(1.01).has_value());
    EXPECT_FALSE(h.value_at_quantile(std::numeric_limits<double>::quiet_NaN()).has_value());
}

TEST(LatencyHistogram, ReportedValueStaysWithinMinMax) {
    latency_histogram h;
    for (int i = 0; i < 100; ++i) h.record(1'000'003);  // all in one wide bucket
    EXPECT_EQ(h.value_at_quantile(0.5), 1'000'003U);
    EXPECT_EQ(h.value_at_quantile(0.99), 1'000'003U);
}

TEST(LatencyHistogram, ClampsHugeValues) {
    latency_histogram h;
    const std::uint64_t huge = std::uint64_t{1} << 50;
    h.record(5);
    h.record(huge);
    h.record(std::numeric_limits<std::uint64_t>::max() / 4);
    EXPECT_EQ(latency_histogram::bucket_index(std::numeric_limits<std::uint64_t>::max()),
              latency_histogram::k_bucket_count - 1);
    EXPECT_EQ(h.count(), 3U);
    EXPECT_EQ(h.clamped_count(), 2U);
    EXPECT_EQ(h.bucket_count_at(latency_histogram::k_bucket_count - 1), 2U);
    EXPECT_EQ(h.max(), std::numeric_limits<std::uint64_t>::max() / 4);
    EXPECT_EQ(h.sum(), 5 + huge + std::numeric_limits<std::uint64_t>::max() / 4);
    EXPECT_EQ(h.value_at_quantile(1.0), h.max());
    EXPECT_EQ(h.value_at_quantile(0.5), h.max());  // rank 2 is in the top bucket
    EXPECT_EQ(h.value_at_quantile(0.0), 5U);
}

TEST(LatencyHistogram, EmptyHistogram) {
    const latency_histogram h;
    EXPECT_EQ(h.count(), 0U);
    EXPECT_EQ(h.min(), 0U);
    EXPECT_EQ(h.max(), 0U);
    EXPECT_EQ(h.mean(), 0.0);
    for (double q : k_quantiles) EXPECT_FALSE(h.value_at_quantile(q).has_value()) << q;
    const auto j = h.to_json();
    EXPECT_TRUE(j["buckets"].empty());
    EXPECT_EQ(latency_histogram::from_json(j), h);
}

TEST(LatencyHistogram, ResetClears) {
    latency_histogram h;
    for (std::uint64_t v = 1; v < 100'000; v += 7) h.record(v);
    h.record(std::uint64_t{1} << 60);
    h.reset();
    EXPECT_EQ(h, latency_histogram{});
    h.record(42);
    EXPECT_EQ(h.min(), 42U);
    EXPECT_EQ(h.max(), 42U);
}

TEST(LatencyHistogram, ZeroBytesIsAValidEmptyHistogram) {
    // Models a histogram placed in fresh (zero-filled) shared memory.
    static_assert(std::is_trivially_copyable_v<latency_histogram>);
    std::vector<unsigned char> zeros(sizeof(latency_histogram), 0);
    latency_histogram h;
    h.record(99);
    std::memcpy(&h, zeros.data(), sizeof h);
    EXPECT_EQ(h, latency_histogram{});
    h.record(300);
    h.record(200);
    EXPECT_EQ(h.min(), 200U);
    EXPECT_EQ(h.max(), 300U);
}

TEST(LatencyHistogram, JsonRoundTrip) {
    std::mt19937_64 rng(6);
    std::lognormal_distribution<double> d(10.0, 2.0);
    latency_histogram h;
    for (int i = 0; i < 20'000; ++i) h.record(static_cast<std::uint64_t>(d(rng)));
    h.record(0);
    h.record(std::uint64_t{1} << 55);

    const auto j = h.to_json();
    EXPECT_EQ(j["unit"], "ns");
    EXPECT_EQ(j["sub_buckets"], 128);
    EXPECT_EQ(j["count"], h.count());
    EXPECT_EQ(j["min"], 0);
    EXPECT_EQ(j["max"], std::uint64_t{1} << 55);
    EXPECT_EQ(j["sum"], h.sum());
    std::uint64_t total = 0;
    for (const auto& b : j["buckets"]) {
        ASSERT_EQ(b.size(), 3U);
        EXPECT_GT(b[2].get<std::uint64_t>(), 0U);
        total += b[2].get<std::uint64_t>();
    }
    EXPECT_EQ(total, h.count());

    EXPECT_EQ(latency_histogram::from_json(j), h);
    EXPECT_EQ(latency_histogram::from_json(nlohmann::json::parse(j.dump())), h);  // through text too
}

TEST(LatencyHistogram, JsonRejectsMalformedInput) {
    latency_histogram h;
    h.record(1000);
    h.record(2000);
    const auto good = h.to_json();
    ASSERT_NO_THROW(latency_histogram::from_json(good));

    auto expect_rejected = [](nlohmann::json j, const char* why) {
        EXPECT_THROW(latency_histogram::from_json(j), std::invalid_argument) << why;
    };
    expect_rejected(nlohmann::json::array(), "not an object");
    auto j = good;
    j["unit"] = "us";
    expect_rejected(j, "wrong unit");
    j = good;
    j["sub_buckets"] = 64;
    expect_rejected(j, "wrong layout");
    j = good;
    j.erase("sum");
    expect_rejected(j, "missing sum");
    j = good;
    j["count"] = -2;
    expect_rejected(j, "negative count");
    j = good;
    j["count"] = 3;
    expect_rejected(j, "count mismatch");
    j = good;
    j["buckets"][0][1] = j["buckets"][0][1].get<std::uint64_t>() + 1;
    expect_rejected(j, "not a bucket boundary");
    j = good;
    j["buckets"] = nlohmann::json::array({good["buckets"][1], good["buckets"][0]});
    expect_rejected(j, "out of order");
    j = good;
    j["buckets"][0] = nlohmann::json::array({1000, 1007});
    expect_rejected(j, "short bucket");
    j = good;
    j["min"] = 5;
    expect_rejected(j, "min outside first bucket");
    j = good;
    j["max"] = "2000";
    expect_rejected(j, "string max");
    j = good;
    j["clamped"] = 1;
    expect_rejected(j, "clamped without a huge max");

    try {
        j = good;
        j["unit"] = "ms";
        latency_histogram::from_json(j);
        FAIL() << "expected throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("unit"), std::string::npos) << e.what();
    }
}

}  // namespace
