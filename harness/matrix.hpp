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
  std::string name;  // <workload>/<runner>/workers:<W>/concurrency:<C>/<param>:<value>...
};

// What the user picked; empty lists mean "the defaults".
struct selection {
  std::vector<std::string> workloads;
  std::vector<std::string> runners;
  std::vector<unsigned> workers;
  std::vector<unsigned> concurrency;
  workloads::param_values params;
  std::optional<std::string> filter;  // ECMAScript regex searched in cell names
};

// Expands the selection into cells, in a stable order. Throws std::invalid_argument naming the problem
// (unknown workload or runner, bad parameter, invalid regex, a filter that matches nothing).
[[nodiscard]] std::vector<cell> build_matrix(const selection& sel,
                                             const std::vector<std::unique_ptr<runners::runner>>& runners,
                                             unsigned cores);

}  // namespace conpar::harness
