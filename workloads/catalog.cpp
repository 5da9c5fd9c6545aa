// The workload catalog: each entry is data (parameters, request shape, default sweep), no runner code.
#include <algorithm>

#include "workloads/kernel.hpp"
#include "workloads/workload.hpp"

namespace conpar::workloads {
namespace {

double param(const workload_spec& spec, std::string_view name) {
  for (const auto& [n, v] : spec.params)
    if (n == name) return v;
  return 0;
}

void add_compute(request& r, std::size_t& n, double micros, const calibration& cal) {
  std::uint64_t iterations = cal.iterations_for(micros);
  // Test-only (the `planted` preset): every request computes this much more, to check the regression gate.
  // Here and not in the kernel, which calibration times: there it would be calibrated away.
  iterations += iterations * static_cast<std::uint64_t>(planted_slowdown_percent()) / 100;
  r.steps[n++] = step{step_kind::compute, iterations};
}
void add_wait(request& r, std::size_t& n, double micros) {
  if (micros > 0) r.steps[n++] = step{step_kind::wait, static_cast<std::uint64_t>(micros)};
}

// Workers 1, 2, cores, 2 x cores: the scaling curve and what oversubscription costs. Eight requests in
// flight per worker keep each worker's queue non-empty, so the curve shows the workers' capacity rather
// than the round trip to the dispatcher between two requests.
constexpr unsigned k_requests_per_worker = 8;

std::vector<load_point> worker_sweep(unsigned cores) {
  std::vector<load_point> loads;
  for (unsigned w : {1u, 2u, cores, 2 * cores})
    if (std::none_of(loads.begin(), loads.end(), [&](load_point p) { return p.workers == w; }))
      loads.push_back({w, w * k_requests_per_worker});
  std::sort(loads.begin(), loads.end(), [](auto a, auto b) { return a.workers < b.workers; });
  return loads;
}

// The open-loop sweep: fractions of each runner's peak, up to just past it (where it saturates).
const std::vector<double> k_rate_fractions = {0.25, 0.5, 0.75, 0.9, 1.0, 1.1};

// Requests in flight 1 .. 10,000; blocking runners need one worker per request in flight.
std::vector<load_point> concurrency_sweep() {
  std::vector<load_point> loads;
  for (unsigned c : {1u, 10u, 100u, 1000u, 10000u}) loads.push_back({c, c});
  return loads;
}

}  // namespace

const std::vector<workload_def>& catalog() {
  static const std::vector<workload_def> k_catalog = {
      {"cpu",
       "each request runs the compute kernel for work_us microseconds",
       {{"work_us", 100, 0, 1e6, "compute time per request in microseconds"}},
       [](workload_spec& spec, const calibration& cal) {
         std::size_t n = 0;
         spec.work_us = param(spec, "work_us");
         add_compute(spec.prototype, n, spec.work_us, cal);
       },
       [](unsigned cores) {
         // work_us 0 measures what each runner adds per request; 64 in flight lets it pipeline.
         return std::vector<default_point>{{{{"work_us", 100}}, worker_sweep(cores)},
                                           {{{"work_us", 0}}, {{1, 1}, {1, 64}}}};
       }},
      {"sleep",
       "each request waits wait_us microseconds (the stand-in for a remote call)",
       {{"wait_us", 10000, 0, 60e6, "wait per request in microseconds"}},
       [](workload_spec& spec, const calibration&) {
         std::size_t n = 0;
         spec.wait_us = param(spec, "wait_us");
         add_wait(spec.prototype, n, spec.wait_us);
       },
       [](unsigned) {
         // Latency under load at 100 in flight, where coro, threads and procs peak alike (~10,000/s): their
         // rate sweeps then offer nearly equal rates.
         return std::vector<default_point>{{{{"wait_us", 10000}}, concurrency_sweep()},
                                           {{{"wait_us", 10000}}, {{100, 100}}, k_rate_fractions}};
       }},
      {"mixed",
       "compute, wait, compute: request_us in all, cpu_share of it computing",
       {{"request_us", 1000, 0, 60e6, "total time per request in microseconds"},
        {"cpu_share", 0.5, 0, 1, "fraction of the request spent computing"}},
       [](workload_spec& spec, const calibration& cal) {
         std::size_t n = 0;
         const double total = param(spec, "request_us");
         spec.work_us = total * param(spec, "cpu_share");
         spec.wait_us = total - spec.work_us;
         add_compute(spec.prototype, n, spec.work_us / 2, cal);
         add_wait(spec.prototype, n, spec.wait_us);
         add_compute(spec.prototype, n, spec.work_us / 2, cal);
       },
       [](unsigned) {
         // 16 in flight: enough that waiting can overlap, few enough that CPU shares separate the runners.
         std::vector<default_point> points;
         for (double share : {0.1, 0.5, 0.9}) points.push_back({{{"request_us", 1000}, {"cpu_share", share}}, {{16, 16}}});
         points.push_back({{{"request_us", 1000}, {"cpu_share", 0.5}}, {{16, 16}}, k_rate_fractions});
         return points;
       }},
      {"fault",
       "compute for work_us; request fail_at throws, request stall_at waits until the watchdog cuts it off: "
       "exercises every runner's error paths (no default cells)",
       {{"work_us", 10, 0, 1e6, "compute time per request in microseconds"},
        {"fail_at", 100, 0, 1e12, "id of the request that throws"},
        {"stall_at", 1e12, 0, 1e12, "id of the request that never finishes its wait"}},
       [](workload_spec& spec, const calibration& cal) {
         std::size_t n = 0;
         spec.work_us = param(spec, "work_us");
         add_compute(spec.prototype, n, spec.work_us, cal);
         spec.prototype.steps[n++] = step{step_kind::fail, static_cast<std::uint64_t>(param(spec, "fail_at"))};
         spec.prototype.steps[n++] = step{step_kind::stall, static_cast<std::uint64_t>(param(spec, "stall_at"))};
       },
       [](unsigned) { return std::vector<default_point>{}; }},
  };
  return k_catalog;
}

}  // namespace conpar::workloads
