#include "harness/aggregates.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace conpar::harness {
namespace {

// A row's identity and bookkeeping, not a measurement: never aggregated.
const std::set<std::string> k_not_measured = {"family_index", "per_family_instance_index", "repetitions",
                                              "repetition_index", "run_order", "threads", "iterations"};

// Google Benchmark's statistics (statistics.cc): sample standard deviation, cv = stddev / mean.
double statistic(const std::string& name, std::vector<double> v) {
  double mean = 0;
  for (const double x : v) mean += x / static_cast<double>(v.size());
  if (name == "mean") return mean;
  if (name == "median") {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  double sum = 0;
  for (const double x : v) sum += (x - mean) * (x - mean);
  const double stddev = v.size() > 1 ? std::sqrt(sum / static_cast<double>(v.size() - 1)) : 0;
  if (name == "stddev") return stddev;
  return mean != 0 ? stddev / mean : 0;  // cv
}

double interval_end(const std::string& name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t k = interval_for(v.size()).k;
  return name == "ci_low" ? v[k - 1] : v[v.size() - k];
}

// The aggregate rows of one run, from its rows [first, last).
void append_aggregates(const nlohmann::json& rows, std::size_t first, std::size_t last, nlohmann::json& out) {
  std::map<std::string, std::vector<double>> values;
  std::size_t ok = 0;
  for (std::size_t i = first; i < last; ++i) {
    const auto& b = rows[i];
    if (b.value("error_occurred", false)) continue;
    ++ok;
    for (const auto& [key, v] : b.items())
      if (v.is_number() && !k_not_measured.count(key)) values[key].push_back(v.get<double>());
  }
  if (ok < 2) return;
  const auto& model = rows[first];
  const std::string run = model.value("run_name", "");
  for (const std::string stat : {"mean", "median", "stddev", "cv", "ci_low", "ci_high"}) {
    const bool ci = stat.rfind("ci_", 0) == 0;
    nlohmann::json a = {{"name", run + "_" + stat},
                        {"family_index", model.value("family_index", 0)},
                        {"per_family_instance_index", model.value("per_family_instance_index", 0)},
                        {"run_name", run},
                        {"run_type", "aggregate"},
                        {"repetitions", model.value("repetitions", 0)},
                        {"threads", model.value("threads", 1)},
                        {"aggregate_name", stat},
                        {"aggregate_unit", stat == "cv" ? "percentage" : "time"},
                        {"iterations", ok},
                        {"time_unit", model.value("time_unit", "ns")}};
    for (const auto& [key, v] : values) {
      if (ci && v.size() < 2) continue;  // a counter only one repetition carries has no interval
      a[key] = ci ? interval_end(stat, v) : statistic(stat, v);
    }
    if (ci) a["ci_coverage"] = interval_for(ok).coverage;
    out.push_back(std::move(a));
  }
}

}  // namespace

median_interval interval_for(std::size_t n) {
  if (n < 2) return {};
  // P(Binomial(n, 1/2) < k) for k = 1, 2, ...: the chance that fewer than k samples fall below the median.
  const auto below = [n](std::size_t k) {
    double p = 0, term = std::ldexp(1.0, -static_cast<int>(n));  // C(n, 0) / 2^n
    for (std::size_t i = 0; i < k; ++i) {
      p += term;
      term = term * static_cast<double>(n - i) / static_cast<double>(i + 1);
    }
    return p;
  };
  median_interval best{1, 1 - 2 * below(1)};
  for (std::size_t k = 2; 2 * k <= n; ++k) {
    const double coverage = 1 - 2 * below(k);
    if (coverage < k_ci_level) break;
    best = {k, coverage};
  }
  return best;
}

void add_aggregates(nlohmann::json& benchmarks) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t first = 0; first < benchmarks.size();) {
    const std::string run = benchmarks[first].value("run_name", "");
    std::size_t last = first;
    for (; last < benchmarks.size() && benchmarks[last].value("run_name", "") == run; ++last)
      out.push_back(benchmarks[last]);
    append_aggregates(benchmarks, first, last, out);
    first = last;
  }
  benchmarks = std::move(out);
}

}  // namespace conpar::harness
