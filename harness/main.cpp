// conpar: runs the same workloads under coroutine, thread-pool and process runners and records the results.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>
#include <boost/version.hpp>
#include <oneapi/tbb/version.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "harness/cell_bench.hpp"
#include "harness/core/interrupt.hpp"
#include "harness/core/machine.hpp"
#include "harness/matrix.hpp"
#include "harness/progress_reporter.hpp"
#include "workloads/kernel.hpp"
#include "harness/results_file.hpp"
#include "harness/sweeps.hpp"
#include "runners/runner.hpp"

namespace {

using namespace conpar;

// Exit codes (README "Exit codes"): 0 ok, 1 results could not be written, 2 bad input, 3 benchmark errors,
// 128 + N interrupted by signal N (130 SIGINT, 143 SIGTERM).
constexpr int k_exit_write_failed = 1;  // also: the workloads' data could not be made (out of memory)
constexpr int k_exit_bad_input = 2;
constexpr int k_exit_benchmark_errors = 3;

// memcpy's buffers: far past any last-level cache, so the copy runs at memory speed.
constexpr std::size_t k_memcpy_bytes = std::size_t{256} << 20;

struct run_command {
  std::string suite = "default";
  harness::selection sel;
  std::vector<std::string> params;  // name=value
  std::string filter;
  double duration_s = -1, warmup_s = -1;
  double cell_timeout_s = 60;
  int repetitions = -1;
  std::string out;
  bool list = false;
  std::string arrival = "poisson";
  std::uint64_t seed = 1;
  bool corrupt_checksum_for_test = false;
  double stall_ms_for_test = 0;
};

void add_run_options(CLI::App& run, run_command& cmd) {
  run.add_option("--suite", cmd.suite, "default (the full suite) or smoke (every cell, tiny durations)")
      ->check(CLI::IsMember({"default", "smoke"}));
  run.add_option("--workload", cmd.sel.workloads, "workloads to run (default: all)")->delimiter(',');
  run.add_option("--runner", cmd.sel.runners, "runners to run: seq, coro, threads, procs (default: all)")->delimiter(',');
  // Past 4,096 threads or processes a machine measures its scheduler and its process table, not a runner.
  run.add_option("--workers", cmd.sel.workers, "worker levels, replacing the sweeps' (e.g. 1,2,4; at most 4096)")
      ->delimiter(',')->check(CLI::Range(1u, 4096u));
  run.add_option("--concurrency", cmd.sel.concurrency, "requests in flight, replacing the sweeps' (e.g. 1,100; at most 100000)")
      ->delimiter(',')->check(CLI::Range(1u, 100000u));
  run.add_option("--rate", cmd.sel.rates,
                 "open loop at these offered rates, requests/s (e.g. 1000,5000); replaces the closed-loop cells")
      ->delimiter(',')->check(CLI::Range(0.001, 1e7));
  run.add_option("--rate-fraction", cmd.sel.rate_fractions,
                 "open loop at these fractions of each cell's closed-loop peak (e.g. 0.5,0.9); the closed-loop cells "
                 "run first")
      ->delimiter(',')->check(CLI::Range(0.001, 10.0));
  run.add_option("--arrival", cmd.arrival, "open-loop arrivals: poisson (default, seeded) or constant (evenly spaced)")
      ->check(CLI::IsMember({"poisson", "constant"}));
  run.add_option("--seed", cmd.seed, "seed of the Poisson arrival schedule (default 1)");
  run.add_option("--param", cmd.params, "workload parameter NAME=VALUE (e.g. work_us=50), repeatable");
  run.add_option("--filter", cmd.filter, "ECMAScript regex; only cells whose name it matches");
  run.add_option("--duration", cmd.duration_s, "measured seconds per repetition (default 0.3; smoke 0.05)")
      ->check(CLI::Range(0.001, 3600.0));
  run.add_option("--warmup", cmd.warmup_s, "unmeasured seconds before each window (default 0.1; smoke 0.2)")
      ->check(CLI::Range(0.0, 3600.0));
  run.add_option("--cell-timeout", cmd.cell_timeout_s,
                 "watchdog: seconds after a window closes before its unfinished requests are abandoned and the "
                 "cell fails (default 60, below CTest's timeouts)")
      ->check(CLI::Range(0.01, 86400.0));
  run.add_option("--repetitions", cmd.repetitions, "repetitions per cell (default 5; smoke 1)")
      ->check(CLI::Range(1, 1000));
  run.add_option("--out", cmd.out, "results file (default results/latest/<suite>.json)");
  run.add_flag("--list", cmd.list, "print the cells and exit");
  run.add_flag("--test-corrupt-checksum", cmd.corrupt_checksum_for_test)->group("");  // test-only, hidden
  run.add_option("--test-stall-ms", cmd.stall_ms_for_test)->group("")->check(CLI::Range(0.0, 10000.0));  // test-only
  run.allow_extras();  // --benchmark_* flags go to Google Benchmark
}

workloads::param_values parse_params(const std::vector<std::string>& raw) {
  workloads::param_values out;
  for (const std::string& p : raw) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--param wants NAME=VALUE, got '" + p + "'");
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(p.substr(eq + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != p.size() - eq - 1)
      throw std::invalid_argument("--param " + p + ": '" + p.substr(eq + 1) + "' is not a number");
    out.emplace_back(p.substr(0, eq), v);
  }
  return out;
}

nlohmann::json run_context(const run_command& cmd, const harness::bench_session& s, unsigned cores) {
  const auto load = harness::load_average();
  return {
      {"schema_version", harness::k_schema_version},
      {"conpar_version", CONPAR_VERSION},
      {"suite", cmd.suite},
      {"git_commit", harness::git_commit()},
      {"compiler", std::string("g++ ") + __VERSION__},
      {"cxx_flags", CONPAR_CXX_FLAGS},
      {"build_type", CONPAR_BUILD_TYPE},
      {"sanitizers", CONPAR_SANITIZERS},
      {"planted_slowdown_percent", workloads::planted_slowdown_percent()},
      {"libraries",
       {{"boost", BOOST_LIB_VERSION},
        {"onetbb", TBB_runtime_version()},
        {"google_benchmark", CONPAR_BENCHMARK_VERSION},
        {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) +
                              "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH)}}},
      {"kernel", harness::kernel_release()},
      {"cpu_model", harness::cpu_model()},
      {"cores", cores},
      {"iterations_per_us", s.calibration.iterations_per_us},
      {"duration_s", s.options.duration_s},
      {"warmup_s", s.options.warmup_s},
      {"cell_timeout_s", s.options.cell_timeout_s},
      {"arrival", s.options.arrivals == harness::arrival::poisson ? "poisson" : "constant"},
      {"seed", s.options.seed},
      {"test_stall_ms", s.options.stall_ms_for_test},
      {"repetitions", s.options.repetitions},
      {"min_window_requests", s.options.min_window_requests},
      {"load_avg_before", {load[0], load[1], load[2]}},
  };
}

int run_suite(run_command& cmd, const std::vector<std::string>& extras, const char* argv0) {
  std::vector<std::unique_ptr<runners::runner>> all = runners::make_runners();
  const unsigned cores = harness::available_cores();
  std::vector<harness::cell> cells;
  try {
    for (const auto& e : extras)
      if (e.rfind("--benchmark_", 0) != 0) throw std::invalid_argument("unknown option '" + e + "'");
    cmd.sel.params = parse_params(cmd.params);
    if (!cmd.filter.empty()) cmd.sel.filter = cmd.filter;
    cells = harness::build_matrix(cmd.sel, all, cores);
  } catch (const std::invalid_argument& e) {
    std::cerr << "conpar run: " << e.what() << "\n";
    return k_exit_bad_input;
  }
  if (cmd.list) {
    for (const auto& c : cells) std::cout << c.name << "\n";
    return 0;
  }

  harness::bench_session session;
  const bool smoke = cmd.suite == "smoke";
  session.options.duration_s = cmd.duration_s > 0 ? cmd.duration_s : (smoke ? 0.05 : 0.3);
  session.options.warmup_s = cmd.warmup_s >= 0 ? cmd.warmup_s : 0.1;
  session.options.cell_timeout_s = cmd.cell_timeout_s;
  session.options.arrivals = cmd.arrival == "constant" ? harness::arrival::constant : harness::arrival::poisson;
  session.options.seed = cmd.seed;
  session.options.stall_ms_for_test = cmd.stall_ms_for_test;
  session.options.repetitions = cmd.repetitions > 0 ? cmd.repetitions : (smoke ? 1 : 5);
  session.options.min_window_requests = smoke ? 5 : 100;  // smoke checks that cells run, not their numbers
  session.options.corrupt_checksum_for_test = cmd.corrupt_checksum_for_test;
  const std::filesystem::path out = cmd.out.empty() ? "results/latest/" + cmd.suite + ".json" : cmd.out;

  // Google Benchmark's flags are checked before anything starts (calibration, worker processes).
  std::vector<std::string> flags = {argv0, "--benchmark_repetitions=" + std::to_string(session.options.repetitions),
                                    "--benchmark_min_time=0.000001"};  // one iteration (one window) per repetition
  flags.insert(flags.end(), extras.begin(), extras.end());
  std::vector<char*> gb_argv;
  for (auto& f : flags) gb_argv.push_back(f.data());
  int gb_argc = static_cast<int>(gb_argv.size());
  benchmark::Initialize(&gb_argc, gb_argv.data());
  if (benchmark::ReportUnrecognizedArguments(gb_argc, gb_argv.data())) return k_exit_bad_input;

  harness::install_interrupt_handlers();
  // Before any process starts (the tcp server, the workers): they inherit the limit.
  const harness::descriptor_limit descriptors = harness::raise_descriptor_limit();
  session.calibration = workloads::calibrate();
  nlohmann::json context = run_context(cmd, session, cores);
  context["open_files_limit"] = {descriptors.soft, descriptors.hard};

  // The requests first (a workload's data, such as the memory workload's array, is made here), so that the
  // worker processes inherit it; then the forking runners start their processes, while this process is
  // still single-threaded.
  try {
    harness::register_cells(cells, session);
  } catch (const std::invalid_argument& e) {
    std::cerr << "conpar run: " << e.what() << "\n";
    return k_exit_bad_input;
  } catch (const std::system_error& e) {  // e.g. the memory workload's array could not be made
    std::cerr << "conpar run: cannot prepare the workloads: " << e.what() << "\n";
    return k_exit_write_failed;
  }
  // The plain bandwidth the memory workload's GB/s stand beside, measured in the same run.
  if (session.max_bytes_per_request > 0) context["memcpy_gb_per_s"] = harness::memcpy_gb_per_s(k_memcpy_bytes);
  std::map<runners::runner*, unsigned> max_workers;
  for (const auto& c : cells) max_workers[c.runner] = std::max(max_workers[c.runner], c.load.workers);
  for (const auto& [r, w] : max_workers) r->prepare(w);

  std::vector<std::string> names;
  for (const auto& c : cells) names.push_back(c.name);
  harness::progress_reporter reporter(std::move(names));
  if (benchmark::RunSpecifiedBenchmarks(&reporter) == 0) {
    std::cerr << "conpar run: --benchmark_filter matches no cell\n";
    return k_exit_bad_input;
  }

  nlohmann::json doc = harness::parse_benchmark_json(reporter.json());
  const auto load = harness::load_average();
  context["load_avg_after"] = {load[0], load[1], load[2]};
  for (auto& [k, v] : context.items()) doc["context"][k] = v;
  harness::finish_results(doc, session.histograms);
  harness::add_sweep_results(doc, cells);
  try {
    harness::write_atomically(out, doc.dump(1) + "\n");
  } catch (const std::exception& e) {
    std::cerr << "conpar run: " << e.what() << "\n";
    return k_exit_write_failed;
  }
  std::cout << "conpar: " << reporter.runs() << " repetitions of " << cells.size() << " cells, " << reporter.errors()
            << " errors; results in " << out.string() << "\n";
  if (const int sig = harness::interrupt_signal()) {
    std::cerr << "conpar: interrupted by " << harness::signal_name(sig) << "; the cells run so far are in " << out.string()
              << "\n";
    return 128 + sig;
  }
  return reporter.errors() > 0 ? k_exit_benchmark_errors : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conpar: the same workloads under an event loop, a thread pool and processes"};
  app.require_subcommand(1);
  run_command cmd;
  CLI::App* run = app.add_subcommand("run", "run benchmark cells and write results JSON");
  // These commands are Python (plots/): `conpar NAME ARGS` is plots/SCRIPT ARGS under the interpreter that
  // CMake found to have Debian's matplotlib, numpy and scipy. Each script documents its own exit codes.
  struct python_command {
    const char* name;
    const char* script;
    const char* help;
  };
  static constexpr python_command k_python_commands[] = {
      {"report", "report.py", "render results JSON into results/report.html and results/report.md"},
      {"compare", "compare.py", "judge NEW against BASE: exit 0 ok, 1 regression, 2 bad input, 3 errors, 4 too noisy"},
      {"ab", "ab.py", "run two builds interleaved (A B, B A, ...) on this machine and compare them"},
      {"history", "history.py", "append a run to results/history/, or print a run's machine class"},
      {"baseline", "baseline.py", "record a run as its machine class's baseline, or gate a run against it"},
      {"export", "export.py", "write Bencher BMF and github-action-benchmark JSON from a results file"},
  };
  std::string commands = "run";
  for (const auto& c : k_python_commands) {
    app.add_subcommand(c.name, c.help);
    commands += std::string(", ") + c.name;
  }
  add_run_options(*run, cmd);
  const std::string command = argc > 1 ? argv[1] : "";
  if (argc > 1 && argv[1][0] != '-' && command != "run" &&
      std::none_of(std::begin(k_python_commands), std::end(k_python_commands),
                   [&](const python_command& c) { return command == c.name; })) {
    std::cerr << "conpar: unknown command '" << command << "' (commands: " << commands << ")\n";
    return k_exit_bad_input;
  }
  for (const auto& c : k_python_commands) {
    if (command != c.name) continue;
    std::vector<std::string> args = {CONPAR_PYTHON, std::string(CONPAR_PLOTS_DIR) + "/" + c.script};
    if (command == "report" && argc == 2) args.emplace_back("results/latest");
    for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
    std::vector<char*> exec_argv;
    for (auto& a : args) exec_argv.push_back(a.data());
    exec_argv.push_back(nullptr);
    execv(exec_argv[0], exec_argv.data());
    std::cerr << "conpar " << command << ": cannot run " << CONPAR_PYTHON << ": " << std::strerror(errno) << "\n";
    return k_exit_bad_input;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : k_exit_bad_input;
  }
  if (run->parsed()) return run_suite(cmd, run->remaining(), argv[0]);
  return k_exit_bad_input;
}
