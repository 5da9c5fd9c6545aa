// The workload catalog: each entry is data (parameters, request shape, default sweep), no runner code.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "workloads/kernel.hpp"
#include "workloads/memory.hpp"
#include "workloads/tcp_protocol.hpp"
#include "workloads/tcp_server.hpp"
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

// The granularity sweep (Task Bench's METG): request sizes from 0.1 us to 10 ms, about x3 a step, at all cores.
const std::vector<double> k_granularity_us = {0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000};

// Requests in flight per worker in the granularity sweep: about 0.8 ms of work (8 to 256 requests; 8 at 100 us,
// so that cell is also the CPU-scaling curve's), as Task Bench gives each core many independent tasks. A runner
// may then hand work over in batches: at 8 per worker, procs' dispatcher woke (a futex wake, ~15 us of CPU in a
// VM) every few 1 us requests, and that, not the cost of a task, set its METG (16 us). Counted in time, not
// requests, so that 10 ms requests do not queue for seconds past the window's end.
unsigned granularity_depth(double work_us) {
  return static_cast<unsigned>(std::clamp(800.0 / work_us, double{k_requests_per_worker}, 256.0));
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
         std::vector<default_point> points{{{{"work_us", 100}}, worker_sweep(cores)},
                                           {{{"work_us", 0}}, {{1, 1}, {1, 64}}}};
         for (double us : k_granularity_us)
           points.push_back({{{"work_us", us}}, {{cores, cores * granularity_depth(us)}}, {}, "granularity"});
         return points;
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
         // The crossover sweep, CPU share 0% .. 100% in steps of 10%, at 16 in flight: enough that waiting can
         // overlap, few enough that CPU shares separate the runners.
         std::vector<default_point> points;
         for (int tenths = 0; tenths <= 10; ++tenths)
           points.push_back({{{"request_us", 1000}, {"cpu_share", tenths / 10.0}}, {{16, 16}}, {}, "crossover"});
         points.push_back({{{"request_us", 1000}, {"cpu_share", 0.5}}, {{16, 16}}, k_rate_fractions});
         return points;
       }},
      {"memory",
       "each request sums its own slice_kib slice of an array_mib array (larger than the last-level cache): "
       "the work that stops scaling when memory bandwidth, not cores, runs out",
       {{"array_mib", 256, 1, 16384, "size of the array the requests stream over, in MiB"},
        {"slice_kib", 1024, 4, 1 << 20, "bytes each request reads, in KiB"}},
       [](workload_spec& spec, const calibration&) {
         const stream_shape shape{static_cast<std::uint32_t>(param(spec, "array_mib") * 1024),
                                  static_cast<std::uint32_t>(param(spec, "slice_kib"))};
         if (shape.slices() == 0)
           throw std::invalid_argument("memory: slice_kib=" + format_number(shape.slice_kib) +
                                       " is larger than the array (array_mib=" + format_number(param(spec, "array_mib")) + ")");
         spec.bytes = static_cast<double>(shape.slice_kib) * 1024;
         spec.prototype.steps[0] = step{step_kind::stream, shape.pack()};
         (void)memory_array_of(shape);  // made now, before the worker processes fork: they inherit it
       },
       [](unsigned cores) { return std::vector<default_point>{{{}, worker_sweep(cores)}}; }},
      {"tcp",
       "each request is one request/response over loopback TCP to our event-driven server (its own process), "
       "which answers after delay_us with response_bytes; one connection per request in flight",
       {{"delay_us", 1000, 0, tcp_shape::k_max_field, "the server's service delay per request in microseconds"},
        {"response_bytes", 1024, 8, 1 << 20, "bytes in each response (a multiple of 8)"}},
       [](workload_spec& spec, const calibration&) {
         const auto bytes = static_cast<std::uint32_t>(param(spec, "response_bytes"));
         if (bytes % 8 != 0 || bytes != param(spec, "response_bytes"))
           throw std::invalid_argument("tcp: response_bytes=" + format_number(param(spec, "response_bytes")) +
                                       " is not a multiple of 8");
         spec.wait_us = param(spec, "delay_us");  // the time the request waits on the server, as sleep's wait
         spec.descriptors_per_request = 1;
         // Started now, while the harness builds its cells and is still single-threaded.
         const tcp_shape shape{tcp_server_port(), static_cast<std::uint32_t>(spec.wait_us), bytes};
         spec.prototype.steps[0] = step{step_kind::tcp, shape.pack()};
       },
       [](unsigned) {
         // 1 .. 10,000 connections in flight, and 1,000 in flight on 2 threads or processes: what a blocking
         // client pays for the concurrency an event loop has for free.
         std::vector<load_point> loads;
         for (unsigned c : {1u, 100u, 1000u, 10000u}) loads.push_back({c, c});
         loads.push_back({2, 1000});
         return std::vector<default_point>{{{}, loads}};
       }},
      {"pipeline",
       "a stream of items through three stages joined by bounded queues: produce (produce_us of compute), "
       "transform (transform_us), consume (consume_us); each runner runs the stages as a pipeline",
       {{"produce_us", 2, 0, 1e6, "compute time of the produce stage per item in microseconds"},
        {"transform_us", 20, 0, 1e6, "compute time of the transform stage per item in microseconds"},
        {"consume_us", 2, 0, 1e6, "compute time of the consume stage per item in microseconds"}},
       [](workload_spec& spec, const calibration& cal) {
         // One compute step per stage, even of 0 us: stage k runs step k, so the item's fold is exactly the
         // sequential request's, and the reference checksums need nothing of their own.
         std::size_t n = 0;
         for (const char* stage : {"produce", "transform", "consume"}) {
           const double us = param(spec, std::string(stage) + "_us");
           spec.work_us += us;
           add_compute(spec.prototype, n, us, cal);
           spec.stages.emplace_back(stage);
         }
       },
       [](unsigned) {
         // Three workers (one per stage: procs runs one process per stage) and 16 items in flight: enough that
         // every stage has work queued, so the slowest stage sets the pace.
         return std::vector<default_point>{{{}, {{3, 16}}}};
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
