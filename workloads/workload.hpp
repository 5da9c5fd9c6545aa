// A workload is data: named parameters, a request prototype built from them, and its default sweep.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "workloads/calibration.hpp"
#include "workloads/request.hpp"

namespace conpar::workloads {

struct param_def {
  std::string_view name;
  double default_value;
  double min_value;
  double max_value;
  std::string_view meaning;
};

// Values in the order of the workload's param_defs; names travel with them so rows are self-describing.
using param_values = std::vector<std::pair<std::string, double>>;

// One load level: W workers (threads / processes) and C requests kept in flight.
struct load_point {
  unsigned workers = 1;
  unsigned concurrency = 1;
  friend bool operator==(const load_point&, const load_point&) = default;
};

struct default_point {
  param_values params;
  std::vector<load_point> loads;
  // Open loop: besides the closed-loop cells, cells offered these fractions of each runner's closed-loop peak
  // at the same load (measured earlier in the same run).
  std::vector<double> rate_fractions = {};
  // The experiment this point belongs to, when the harness computes something across its cells after the run
  // ("granularity": efficiency and METG; "crossover": the report's ranking by CPU share). Empty: none.
  std::string_view sweep = {};
};

struct workload_spec {
  std::string workload;
  param_values params;
  double work_us = 0;  // CPU work per request
  double wait_us = 0;  // waiting per request
  double bytes = 0;    // memory read per request (the memory workload), for the bandwidth counter
  // Descriptors a request in flight holds open (tcp: its connection); the harness checks them against the
  // process's limit before a cell, so a cell that cannot have them fails with a clear message, not mid-run.
  unsigned descriptors_per_request = 0;
  request prototype{};
  // Empty: a request is one unit of work. Otherwise the request is an item of a pipeline whose stage k runs
  // step k, named stages[k] (the `pipeline` workload: produce, transform, consume): each runner runs the
  // stages as a stream joined by bounded queues and reports each stage's busy time.
  std::vector<std::string> stages;

  // "cpu/work_us:100": identifies the request stream, hence its reference checksums.
  [[nodiscard]] std::string key() const;
  [[nodiscard]] request make(std::uint64_t id) const noexcept {
    request r = prototype;
    r.id = id;
    return r;
  }
};

struct workload_def {
  std::string_view name;
  std::string_view summary;
  std::vector<param_def> params;
  // Fills work_us / wait_us / bytes / prototype from the params and the machine's calibration; throws
  // std::invalid_argument when the params do not fit together.
  void (*build)(workload_spec& spec, const calibration& cal);
  std::vector<default_point> (*defaults)(unsigned cores);
};

// Every workload conpar knows; adding one means adding an entry in catalog.cpp.
[[nodiscard]] const std::vector<workload_def>& catalog();
[[nodiscard]] const workload_def* find_workload(std::string_view name) noexcept;

// Validates `overrides` (name=value) against the definition and fills in defaults; throws
// std::invalid_argument naming the bad parameter or value.
[[nodiscard]] param_values resolve_params(const workload_def& def, const param_values& overrides);
[[nodiscard]] workload_spec make_spec(const workload_def& def, const param_values& params, const calibration& cal);

// "%g" formatting used in names and keys, so 100 prints as 100 and 0.5 as 0.5.
[[nodiscard]] std::string format_number(double v);

}  // namespace conpar::workloads
