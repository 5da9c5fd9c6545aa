// What the run's sweeps compute across their cells once every cell has run: the sweep tags on the rows, and
// the granularity sweep's efficiency and METG(50%) (Task Bench's metric).
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/matrix.hpp"

namespace conpar::harness {

// The efficiency a granularity cell must reach for its request size to count (METG(50%)).
inline constexpr double k_metg_efficiency = 0.5;

struct granularity_point {
  double size_us = 0;     // the request's compute time
  double efficiency = 0;  // median over the repetitions
};

// METG: the smallest request size from which on every larger size reaches `target` efficiency, interpolated
// on log(size) between the last size below the target and the first of the run that stays above it.
// nullopt when the largest size still misses it. `below_sweep` is set when the smallest size already reaches
// it: the METG is then at most that size. `points` must be sorted by size.
struct metg_result {
  double size_us = 0;
  bool below_sweep = false;
};
[[nodiscard]] std::optional<metg_result> metg(const std::vector<granularity_point>& points, double target);

// Adds to the rows of `doc` (Google Benchmark's JSON, names already stripped of their suffix):
// - `sweeps`: the experiments each row's cell belongs to;
// - on granularity rows, `efficiency` = throughput x single-request time on seq / workers, where the
//   single-request time is 1 / the median throughput of the seq cell of the same workload and parameters;
// - on every row of a (workload, runner, workers) granularity curve, `metg50_us` (and `metg50_below_sweep` 1
//   when the METG is at most the smallest size). Nothing is added where the seq reference did not run.
void add_sweep_results(nlohmann::json& doc, const std::vector<cell>& cells);

}  // namespace conpar::harness
