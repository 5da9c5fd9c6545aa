// Registers the cells with Google Benchmark, a round at a time, and measures one repetition of a cell: the
// harness's core.
#pragma once

#include <cstdint>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/core/load_driver.hpp"
#include "harness/matrix.hpp"
#include "harness/reference.hpp"
#include "workloads/calibration.hpp"

namespace conpar::harness {

struct run_options {
  double duration_s = 0.3;  // measured window per repetition
  double warmup_s = 0.1;    // issued and validated, not measured
  double cell_timeout_s = 60;  // the watchdog: how long after its window a cell may still run
  int repetitions = 5;
  // The window spans at least this many request times. Identical requests started together complete in
  // waves, and a window of N waves miscounts by up to one wave: 100 keeps that error under 1%.
  double min_window_requests = 100;
  arrival arrivals = arrival::poisson;  // open loop: how requests arrive
  std::uint64_t seed = 1;               // open loop: the Poisson schedule's seed, the same for every cell
  bool corrupt_checksum_for_test = false;  // test-only: proves a bad checksum becomes an error row
  double stall_ms_for_test = 0;            // test-only: freezes a lane once per window (load_driver::plant_stall)
};

// State shared by every registered cell for the lifetime of the run.
struct bench_session {
  run_options options;
  workloads::calibration calibration;
  reference_checksums reference;
  // Each repetition's full latency histogram, by benchmark name, in repetition order.
  std::map<std::string, std::vector<nlohmann::json>> histograms;
  // Closed-loop throughput of every successful repetition, by cell name: the peaks open-loop cells scale.
  std::map<std::string, std::vector<double>> peaks;
  // Each cell's requests, in the cells' order (prepare_cells).
  std::vector<std::shared_ptr<const workloads::workload_spec>> specs;
  // The most memory any registered cell's request reads (bytes; 0 when no cell streams memory).
  double max_bytes_per_request = 0;
};

// Builds each cell's requests once, before any process forks (a workload's data, such as the memory workload's
// array, is made here, and the worker processes inherit it). Throws std::invalid_argument for parameters that
// do not fit together.
void prepare_cells(const std::vector<cell>& cells, bench_session& session);

// Registers one round with Google Benchmark, replacing the last: cells[order[0]], cells[order[1]], ... in that
// order (real/manual time, one iteration per repetition). prepare_cells must have run.
void register_round(const std::vector<cell>& cells, const std::vector<std::size_t>& order, bench_session& session);

}  // namespace conpar::harness
