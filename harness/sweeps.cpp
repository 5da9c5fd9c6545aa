#include "harness/sweeps.hpp"

#include "harness/json_number.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>

namespace conpar::harness {
namespace {

constexpr std::string_view k_granularity = "granularity";

bool successful_iteration(const nlohmann::json& row) {
  return row.value("run_type", "") == "iteration" && !row.value("error_occurred", false);
}

// A repetition, or the mean or median over them: rows whose counters are values, not spreads (stddev, cv).
bool per_request_row(const nlohmann::json& row) {
  if (row.value("error_occurred", false)) return false;
  const std::string aggregate = row.value("aggregate_name", "");
  return aggregate.empty() || aggregate == "mean" || aggregate == "median";
}

// The median over a cell's successful repetitions of one counter.
std::optional<double> median_of(const nlohmann::json& doc, const std::string& name, const char* key) {
  std::vector<double> values;
  for (const auto& row : doc["benchmarks"])
    if (row.value("run_name", "") == name && successful_iteration(row))
      if (const auto v = json_number(row, key)) values.push_back(*v);
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

bool in_sweep(const cell& c, std::string_view sweep) {
  return std::find(c.sweeps.begin(), c.sweeps.end(), sweep) != c.sweeps.end();
}

// The seq cell that runs the same requests closed-loop: the granularity sweep's single-request time.
const cell* sequential_reference(const std::vector<cell>& cells, const cell& c) {
  const auto it = std::find_if(cells.begin(), cells.end(), [&](const cell& x) {
    return x.runner->shape() == runners::runner_shape::sequential && !x.open_loop() && x.workload == c.workload &&
           x.params == c.params;
  });
  return it == cells.end() ? nullptr : &*it;
}

struct curve {
  std::vector<granularity_point> points;
  std::vector<std::string> names;
};

}  // namespace

std::optional<metg_result> metg(const std::vector<granularity_point>& points, double target) {
  if (points.empty() || points.back().efficiency < target) return std::nullopt;
  std::size_t first = points.size() - 1;  // the first of the run of sizes that all reach the target
  while (first > 0 && points[first - 1].efficiency >= target) --first;
  if (first == 0) return metg_result{points.front().size_us, true};
  const auto& lo = points[first - 1];
  const auto& hi = points[first];
  if (lo.size_us <= 0) return metg_result{hi.size_us, false};  // no log scale below a size of zero
  // hi reaches the target and lo does not, so the denominator is positive.
  const double f = (target - lo.efficiency) / (hi.efficiency - lo.efficiency);
  return metg_result{std::exp(std::log(lo.size_us) + f * (std::log(hi.size_us) - std::log(lo.size_us))), false};
}

void add_sweep_results(nlohmann::json& doc, const std::vector<cell>& cells) {
  std::map<std::string, const cell*> by_name;
  for (const cell& c : cells) by_name[c.name] = &c;
  for (auto& row : doc["benchmarks"]) {
    const auto it = by_name.find(row.value("run_name", ""));
    if (it != by_name.end() && !it->second->sweeps.empty()) row["sweeps"] = it->second->sweeps;
  }

  // One efficiency curve per (workload, runner, workers): the runner at one width over the request sizes.
  std::map<std::tuple<std::string, std::string, unsigned>, curve> curves;
  for (const cell& c : cells) {
    if (!in_sweep(c, k_granularity) || c.open_loop()) continue;
    const cell* seq = sequential_reference(cells, c);
    if (!seq) continue;
    const double seq_throughput = median_of(doc, seq->name, "items_per_second").value_or(0);
    const auto throughput = median_of(doc, c.name, "items_per_second");
    const auto size = median_of(doc, c.name, "work_us");
    if (seq_throughput <= 0 || !throughput || !size) continue;
    // Efficiency is linear in throughput, so it applies to the repetitions and their mean and median alike.
    const double per_request_per_worker = 1 / (seq_throughput * c.load.workers);
    for (auto& row : doc["benchmarks"]) {
      if (row.value("run_name", "") != c.name || !per_request_row(row)) continue;
      if (const auto ips = json_number(row, "items_per_second")) row["efficiency"] = *ips * per_request_per_worker;
    }
    auto& k = curves[{std::string(c.workload->name), std::string(c.runner->name()), c.load.workers}];
    k.points.push_back({*size, *throughput * per_request_per_worker});
    k.names.push_back(c.name);
  }

  for (auto& [key, k] : curves) {
    std::sort(k.points.begin(), k.points.end(), [](const auto& a, const auto& b) { return a.size_us < b.size_us; });
    const auto m = metg(k.points, k_metg_efficiency);
    if (!m) continue;
    for (auto& row : doc["benchmarks"]) {
      if (!per_request_row(row)) continue;
      if (std::find(k.names.begin(), k.names.end(), row.value("run_name", "")) == k.names.end()) continue;
      row["metg50_us"] = m->size_us;
      if (m->below_sweep) row["metg50_below_sweep"] = 1;
    }
  }
}

}  // namespace conpar::harness
