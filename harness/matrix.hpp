// The cells of a run: which workload, with which parameters, under which runner, at which load.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runners/runner.hpp"
#include "workloads/workload.hpp"

namespace conpar::harness {

struct cell {
  const workloads::workload_def* workload = nullptr;
  workloads::param_values params;
  runners::runner* runner = nullptr;
  workloads::load_point load;
  // Open loop: an absolute offered rate (requests/s), or a fraction of the closed-loop throughput of
  // `peak_cell` (the same runner, load and parameters, measured earlier in the run). Both 0: closed loop.
  double rate = 0;
  double rate_fraction = 0;
  std::string peak_cell;
  // The experiments (default_point::sweep) this cell belongs to: one cell can serve several, e.g. cpu at 100 us
  // on all cores is on the CPU-scaling curve and in the granularity sweep.
  std::vector<std::string> sweeps;
  // <workload>/<runner>/workers:<W>/concurrency:<C>[/rate:<R>|/rate_fraction:<F>]/<param>:<value>...
  std::string name;

  [[nodiscard]] bool open_loop() const noexcept { return rate > 0 || rate_fraction > 0; }
};

// What the user picked; empty lists mean "the defaults".
struct selection {
  std::vector<std::string> workloads;
  std::vector<std::string> runners;
  std::vector<unsigned> workers;
  std::vector<unsigned> concurrency;
  workloads::param_values params;
  std::vector<double> rates;           // open loop at these absolute rates (no closed-loop cells then)
  std::vector<double> rate_fractions;  // open loop at these fractions of each closed-loop peak
  std::optional<std::string> filter;   // ECMAScript regex searched in cell names (see build_matrix)
};

// Expands the selection into cells, in a stable order. Throws std::invalid_argument naming the problem
// (unknown workload or runner, bad parameter, a worker level above runners::k_worker_pool_cap, a filter that
// is empty, invalid, longer than 512 characters, uses {m,n} or a back-reference, or matches nothing). The
// filter is matched in time linear in the name, whatever the pattern.
[[nodiscard]] std::vector<cell> build_matrix(const selection& sel,
                                             const std::vector<std::unique_ptr<runners::runner>>& runners,
                                             unsigned cores);

}  // namespace conpar::harness
