#include "harness/cell_bench.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "harness/core/interrupt.hpp"
#include "harness/core/load_driver.hpp"
#include "harness/core/machine.hpp"
#include "harness/core/resource_usage.hpp"
#include "workloads/kernel.hpp"
#include "workloads/tcp_server.hpp"

namespace conpar::harness {
namespace {

using benchmark::Counter;

// Up to 5.1 s after a 0.02 s smoke window: 10,000 coroutines under ASan each open a connection before the
// first of them completes a request, which takes about a second, more while other tests share the cores.
constexpr int k_window_retries = 4;
// The tcp server is one epoll thread: busy 90% of the cell, it, not the runner, set the pace (server_bound).
constexpr double k_server_bound_busy = 0.9;
constexpr int k_window_growth = 4;

void set_latency_counters(benchmark::State& state, const latency_histogram& h) {
  // A percentile with too few samples behind it is left out, never guessed.
  const auto put = [&](const char* name, double q) {
    if (const auto v = h.value_at_quantile(q)) state.counters[name] = Counter(static_cast<double>(*v) / 1e3);
  };
  put("latency_p50_us", 0.50);
  put("latency_p90_us", 0.90);
  put("latency_p99_us", 0.99);
  put("latency_p999_us", 0.999);
  if (h.count() > 0) {
    state.counters["latency_max_us"] = Counter(static_cast<double>(h.max()) / 1e3);
    state.counters["latency_mean_us"] = Counter(h.mean() / 1e3);
  }
}

void measure(benchmark::State& state, const cell& c, const workloads::workload_spec& spec, bench_session& s) {
  using seconds = std::chrono::duration<double>;
  // However short the requested window, the warm-up spans two request times and the window
  // min_window_requests of them, so long requests are counted in steady state and to within a wave.
  const double request_s = (spec.work_us + spec.wait_us) * 1e-6;
  const auto warmup = std::chrono::duration_cast<clock::duration>(seconds(std::max(s.options.warmup_s, 2 * request_s)));
  const auto duration = std::chrono::duration_cast<clock::duration>(
      seconds(std::max(s.options.duration_s, s.options.min_window_requests * request_s)));
  latency_histogram repetition_latency;  // merged over the repetition's iterations (normally one)
  for (auto _ : state) {
    if (const int sig = interrupt_signal()) {
      state.SkipWithError(("not run: the run was interrupted by " + signal_name(sig)).c_str());
      break;
    }
    const bool uses_server = std::any_of(spec.prototype.steps.begin(), spec.prototype.steps.end(),
                                         [](const workloads::step& st) { return st.kind == workloads::step_kind::tcp; });
    if (const auto why = descriptor_shortfall(std::uint64_t{spec.descriptors_per_request} * c.load.concurrency,
                                              uses_server ? workloads::tcp_server_pid() : 0);
        !why.empty()) {
      state.SkipWithError(("not run: " + why).c_str());
      break;
    }
    // Open loop: the offered rate, absolute or a fraction of the peak its closed-loop cell measured.
    double peak = 0, offered = c.rate;
    if (c.rate_fraction > 0) {
      auto& runs = s.peaks[c.peak_cell];
      if (runs.empty()) {
        state.SkipWithError(("no peak to scale from: " + c.peak_cell + " has no successful repetition").c_str());
        break;
      }
      std::vector<double> sorted = runs;
      std::sort(sorted.begin(), sorted.end());
      peak = sorted[sorted.size() / 2];
      offered = c.rate_fraction * peak;
    }
    // A window in which nothing completed says nothing; on a loaded machine (a thousand fresh processes on
    // two cores) a short one can. Such a window is run again, each time k_window_growth times longer.
    auto window = duration;
    // An open loop's window also holds 1.5 x min_window_requests arrivals (150 by default): enough for a p99
    // (100 samples) despite the Poisson schedule's spread, at every offered rate, 25/s included.
    if (offered > 0)
      window = std::max(window, std::chrono::duration_cast<clock::duration>(
                                    seconds(1.5 * s.options.min_window_requests / offered)));
    std::optional<load_driver> load_slot;
    runners::cell_outcome out;
    bool failed = false;
    // The tcp server's CPU over the runner's run (its connects included), and that span: server_busy_cores.
    double server_cpu_s = -1, server_span_s = 0;
    for (int attempt = 0; attempt <= k_window_retries; ++attempt, window *= k_window_growth) {
      reset_peak_rss();  // this cell's peak, not the run's
      load_slot.emplace(spec, warmup, window, c.load.concurrency);
      load_slot->set_watchdog(std::chrono::duration_cast<clock::duration>(seconds(s.options.cell_timeout_s)));
      if (offered > 0) load_slot->set_open_loop(offered, s.options.arrivals, s.options.seed);
      if (s.options.stall_ms_for_test > 0)
        load_slot->plant_stall(std::chrono::duration_cast<clock::duration>(
            std::chrono::duration<double, std::milli>(s.options.stall_ms_for_test)));
      const double server_before = uses_server ? workloads::tcp_server_cpu_s() : -1;
      const auto run_started = clock::now();
      try {
        out = c.runner->run(*load_slot, c.load.workers);
        const double server_after = server_before >= 0 ? workloads::tcp_server_cpu_s() : -1;
        server_cpu_s = server_after >= 0 ? server_after - server_before : -1;
        server_span_s = seconds(clock::now() - run_started).count();
      } catch (const std::exception& e) {
        state.SkipWithError((std::string(c.runner->name()) + " failed: " + e.what()).c_str());
        failed = true;
        break;
      }
      if (out.stats.measured > 0 || interrupt_signal() != 0 || !out.faults.empty() ||
          out.stats.completed != load_slot->issued())
        break;
    }
    if (failed) break;
    load_driver& load = *load_slot;
    if (const int sig = interrupt_signal()) {  // a cut-short window is no measurement
      state.SkipWithError(("interrupted by " + signal_name(sig) + " during the cell").c_str());
      break;
    }
    const double wall_s = seconds(clock::now() - load.window().start).count();
    resource_usage usage = resource_usage::of_this_process() - load.usage_at_begin();
    usage += out.other_processes;

    // Validation: every issued request completed or was reported lost, each once, and the fold of the
    // completed ones matches the sequential reference's.
    const lane_stats& st = out.stats;
    std::uint64_t fold = st.checksum_fold;
    if (s.options.corrupt_checksum_for_test) fold ^= 1;
    std::uint64_t expected = s.reference.fold(spec, load.issued());
    for (const std::uint64_t id : out.lost) expected -= workloads::expected_checksum(spec.make(id));
    if (st.completed + out.lost.size() != load.issued() || fold != expected) {
      state.SkipWithError(("validation failed: " + std::to_string(st.completed) + " completed + " +
                           std::to_string(out.lost.size()) + " lost of " + std::to_string(load.issued()) +
                           " requests issued, checksum " + std::to_string(fold) +
                           (fold == expected ? " matches" : " != reference " + std::to_string(expected)))
                              .c_str());
      break;
    }
    if (!out.faults.empty()) {  // accounted for, but a cell that lost a worker measured something else
      std::string what(c.runner->name());
      for (const auto& f : out.faults) what += ": " + f;
      what += "; " + std::to_string(st.completed) + " requests completed and validated, " +
              std::to_string(out.lost.size()) + " lost";
      state.SkipWithError(what.c_str());
      break;
    }
    if (st.measured == 0) {
      state.SkipWithError(("no request completed inside the measured window, " + std::to_string(k_window_retries + 1) +
                           " windows up to " + std::to_string(load.window().measured_seconds()) + " s: raise --duration")
                              .c_str());
      break;
    }

    const double measured_s = load.window().measured_seconds();
    const double throughput = static_cast<double>(st.measured) / measured_s;
    state.SetIterationTime(measured_s);
    state.SetItemsProcessed(static_cast<std::int64_t>(st.measured));
    auto& k = state.counters;
    k["workers"] = Counter(c.load.workers);
    k["concurrency"] = Counter(c.load.concurrency);
    for (const auto& [name, value] : c.params) k[name] = Counter(value);
    k["work_us"] = Counter(spec.work_us);
    k["wait_us"] = Counter(spec.wait_us);
    if (spec.bytes > 0) {
      k["bytes_per_request"] = Counter(spec.bytes);
      k["gb_per_second"] = Counter(throughput * spec.bytes / 1e9);
    }
    set_latency_counters(state, st.latency);
    k["busy_cores"] = Counter((usage.user_s + usage.sys_s) / wall_s);
    // A pipeline's stages: the time each spent running its step over the same wall time as busy_cores (1: one core
    // busy the whole cell; a stage run in parallel can exceed it), so the slowest stage shows.
    for (std::size_t i = 0; i < spec.stages.size() && i < out.stage_busy_s.size(); ++i)
      k["stage_" + spec.stages[i] + "_busy"] = Counter(out.stage_busy_s[i] / wall_s);
    k["in_flight"] = Counter(throughput * st.latency.mean() * 1e-9);  // Little's law
    k["cpu_user_s"] = Counter(usage.user_s);
    k["cpu_sys_s"] = Counter(usage.sys_s);
    k["cpu_us_per_request"] = Counter((usage.user_s + usage.sys_s) * 1e6 / static_cast<double>(st.completed));
    k["ctx_voluntary"] = Counter(static_cast<double>(usage.ctx_voluntary));
    k["ctx_involuntary"] = Counter(static_cast<double>(usage.ctx_involuntary));
    k["page_faults"] = Counter(static_cast<double>(usage.page_faults));
    k["rss_peak_mb"] = Counter(static_cast<double>(usage.rss_peak_kb) / 1024.0);
    k["measured_requests"] = Counter(static_cast<double>(st.measured));  // the histogram's count
    if (server_cpu_s >= 0 && server_span_s > 0) {  // one epoll thread: near a whole core, it set the pace
      const double server_busy = server_cpu_s / server_span_s;
      k["server_cpu_s"] = Counter(server_cpu_s);
      k["server_busy_cores"] = Counter(server_busy);
      k["server_bound"] = Counter(server_busy >= k_server_bound_busy ? 1 : 0);
    }
    if (load.open()) {
      k["offered_per_second"] = Counter(load.offered_per_second());
      k["achieved_per_second"] = Counter(throughput);
      // Saturated: fewer than 95% of the requests the schedule had due in the window completed in it.
      const auto scheduled = load.scheduled_in_window();
      k["scheduled_in_window"] = Counter(static_cast<double>(scheduled));
      k["saturated"] = Counter(static_cast<double>(st.measured) < 0.95 * static_cast<double>(scheduled) ? 1 : 0);
      if (c.rate_fraction > 0) {
        k["rate_fraction"] = Counter(c.rate_fraction);
        k["peak_per_second"] = Counter(peak);
      }
      if (const latency_histogram* service = st.service.get()) {
        if (const auto v = service->value_at_quantile(0.5)) k["service_p50_us"] = Counter(static_cast<double>(*v) / 1e3);
        if (const auto v = service->value_at_quantile(0.99)) k["service_p99_us"] = Counter(static_cast<double>(*v) / 1e3);
      }
    } else {
      s.peaks[c.name].push_back(throughput);
    }
    k["requests"] = Counter(static_cast<double>(st.completed));
    k["wall_s"] = Counter(wall_s);
    k["window_s"] = Counter(measured_s);  // finish_results makes real_time per request from it
    // How long the warm-up lasted: the fixed one, or until every lane had completed a request (10,000 connects).
    k["warmup_s"] = Counter(seconds(load.window().measure_from - load.window().start).count());
    k["validated"] = Counter(1);
    repetition_latency.merge(st.latency);
  }
  // One entry per repetition, null for a failed one, so entries line up with repetition_index.
  s.histograms[c.name].push_back(state.error_occurred() ? nlohmann::json() : repetition_latency.to_json());
}

}  // namespace

void prepare_cells(const std::vector<cell>& cells, bench_session& session) {
  session.specs.clear();
  for (const cell& c : cells) {
    session.specs.push_back(
        std::make_shared<workloads::workload_spec>(workloads::make_spec(*c.workload, c.params, session.calibration)));
    session.max_bytes_per_request = std::max(session.max_bytes_per_request, session.specs.back()->bytes);
  }
}

void register_round(const std::vector<cell>& cells, const std::vector<std::size_t>& order, bench_session& session) {
  benchmark::ClearRegisteredBenchmarks();
  for (const std::size_t i : order) {
    const cell& c = cells[i];
    const workloads::workload_spec& spec = *session.specs[i];
    benchmark::RegisterBenchmark(c.name.c_str(), [&c, &spec, &session](benchmark::State& state) {
      measure(state, c, spec, session);
    })
        // One repetition per round and one iteration per repetition (see main.cpp), so that Google Benchmark
        // adds no "/iterations:1/repeats:N" to our names.
        ->UseManualTime()  // the measured window, never the benchmark thread's CPU time
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace conpar::harness
