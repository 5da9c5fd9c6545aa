// conpar: runs the same workloads under coroutine, thread-pool and process runners and records the results.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>
#include <boost/version.hpp>
#include <oneapi/tbb/version.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "harness/benchmark_flags.hpp"
#include "harness/cell_bench.hpp"
#include "harness/core/interrupt.hpp"
#include "harness/core/machine.hpp"
#include "harness/matrix.hpp"
#include "harness/other_load.hpp"
#include "harness/progress_reporter.hpp"
#include "harness/rounds.hpp"
#include "workloads/kernel.hpp"
#include "harness/results_file.hpp"
#include "harness/sweeps.hpp"
#include "runners/runner.hpp"

namespace {

using namespace conpar;

// Exit codes (README "Exit codes"): 0 ok, 1 results could not be written, 2 bad input, 3 benchmark errors,
// 128 + N interrupted by signal N (129 SIGHUP, 130 SIGINT, 141 SIGPIPE, 143 SIGTERM).
constexpr int k_exit_write_failed = 1;  // also: the workloads' data could not be made (out of memory)
constexpr int k_exit_bad_input = 2;
constexpr int k_exit_benchmark_errors = 3;

// The longest open-loop window a --rate may imply: the --duration bound. Below 1.5 x min_window_requests /
// this rate (0.042/s at the defaults) a window would run for hours or days, most of it waiting.
constexpr double k_max_window_s = 3600;

// memcpy's buffers: far past any last-level cache, so the copy runs at memory speed.
constexpr std::size_t k_memcpy_bytes = std::size_t{256} << 20;

struct run_command {
  std::string suite = "default";
  harness::selection sel;
  std::vector<std::string> params;  // name=value
  std::optional<std::string> filter;  // set when given, even empty: build_matrix refuses an empty one
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

// The one way a float option (and a --param value) is read: the whole text, a finite number in [lo, hi].
// CLI::Range let NaN through (every comparison with it is false) and std::stod reads "nan" and "inf".
std::optional<double> finite_in(const std::string& text, double lo, double hi) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || stop != end || !std::isfinite(v) || v < lo || v > hi) return std::nullopt;
  return v;
}

// CLI11 puts the option's name before the message: "--duration: 'nan' is not a finite number in [0.001, 3600]".
CLI::Validator finite_range(double lo, double hi) {
  const std::string range = "[" + workloads::format_number(lo) + ", " + workloads::format_number(hi) + "]";
  return CLI::Validator(
      [=](std::string& text) {
        return finite_in(text, lo, hi) ? std::string() : "'" + text + "' is not a finite number in " + range;
      },
      "NUMBER in " + range);
}

void add_run_options(CLI::App& run, run_command& cmd) {
  run.add_option("--suite", cmd.suite, "default (the full suite) or smoke (every cell, tiny durations)")
      ->check(CLI::IsMember({"default", "smoke"}));
  run.add_option("--workload", cmd.sel.workloads, "workloads to run (default: all)")->delimiter(',');
  run.add_option("--runner", cmd.sel.runners, "runners to run: seq, coro, threads, procs (default: all)")->delimiter(',');
  // build_matrix checks the levels against the pools' cap (runners::k_worker_pool_cap), naming it.
  run.add_option("--workers", cmd.sel.workers,
                 "worker levels, replacing the sweeps' (e.g. 1,2,4; at most " +
                     std::to_string(runners::k_worker_pool_cap) + ")")
      ->delimiter(',');
  run.add_option("--concurrency", cmd.sel.concurrency, "requests in flight, replacing the sweeps' (e.g. 1,100; at most 100000)")
      ->delimiter(',')->check(CLI::Range(1u, 100000u));
  run.add_option("--rate", cmd.sel.rates,
                 "open loop at these offered rates, requests/s (e.g. 1000,5000); replaces the closed-loop cells")
      ->delimiter(',')->check(finite_range(0.001, 1e7));
  run.add_option("--rate-fraction", cmd.sel.rate_fractions,
                 "open loop at these fractions of each cell's closed-loop peak (e.g. 0.5,0.9); the closed-loop cells "
                 "run first")
      ->delimiter(',')->check(finite_range(0.001, 10.0));
  run.add_option("--arrival", cmd.arrival, "open-loop arrivals: poisson (default, seeded) or constant (evenly spaced)")
      ->check(CLI::IsMember({"poisson", "constant"}));
  run.add_option("--seed", cmd.seed, "seed of the Poisson arrival schedule and of the rounds' order (default 1)");
  run.add_option("--param", cmd.params, "workload parameter NAME=VALUE (e.g. work_us=50), repeatable");
  run.add_option("--filter", cmd.filter,
                 "ECMAScript regex; only cells whose name it matches (not empty, at most 512 characters, no {m,n})");
  run.add_option("--duration", cmd.duration_s, "measured seconds per repetition (default 0.3; smoke 0.02)")
      ->check(finite_range(0.001, 3600.0));
  run.add_option("--warmup", cmd.warmup_s, "unmeasured seconds before each window (default 0.1; smoke 0.02)")
      ->check(finite_range(0.0, 3600.0));
  run.add_option("--cell-timeout", cmd.cell_timeout_s,
                 "watchdog: seconds after a window closes before its unfinished requests are abandoned and the "
                 "cell fails (default 60, below CTest's timeouts)")
      ->check(finite_range(0.01, 86400.0));
  run.add_option("--repetitions", cmd.repetitions, "repetitions per cell (default 5; smoke 1)")
      ->check(CLI::Range(1, 1000));
  run.add_option("--out", cmd.out, "results file (default results/latest/<suite>.json)");
  run.add_flag("--list", cmd.list, "print the cells and exit");
  run.add_flag("--test-corrupt-checksum", cmd.corrupt_checksum_for_test)->group("");  // test-only, hidden
  run.add_option("--test-stall-ms", cmd.stall_ms_for_test)->group("")->check(finite_range(0.0, 10000.0));  // test-only
  run.allow_extras();  // --benchmark_* flags go to Google Benchmark
}

workloads::param_values parse_params(const std::vector<std::string>& raw) {
  workloads::param_values out;
  for (const std::string& p : raw) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--param wants NAME=VALUE, got '" + p + "'");
    // The workload checks each parameter's own range (resolve_params).
    const std::string text = p.substr(eq + 1);
    const auto v = finite_in(text, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
    if (!v) throw std::invalid_argument("--param " + p + ": '" + text + "' is not a finite number");
    out.emplace_back(p.substr(0, eq), *v);
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
      // The rest of the machine's calibration (a few ms): a baseline's absolute numbers are judged only on a match.
      {"syscall_ns", harness::syscall_ns()},
      {"futex_round_trip_us", harness::futex_round_trip_us()},
      {"duration_s", s.options.duration_s},
      {"warmup_s", s.options.warmup_s},
      {"cell_timeout_s", s.options.cell_timeout_s},
      {"arrival", s.options.arrivals == harness::arrival::poisson ? "poisson" : "constant"},
      {"seed", s.options.seed},
      // The repetitions run in rounds, every cell once per round in an order drawn from the seed (rounds.hpp).
      {"interleaving", "rounds"},
      {"test_stall_ms", s.options.stall_ms_for_test},
      {"repetitions", s.options.repetitions},
      {"min_window_requests", s.options.min_window_requests},
      {"load_avg_before", {load[0], load[1], load[2]}},
  };
}

harness::run_options options_of(const run_command& cmd) {
  harness::run_options o;
  const bool smoke = cmd.suite == "smoke";
  // Smoke checks that every cell runs and validates, not its numbers: 20 ms windows keep the 178 cells of the
  // smoke suite near 30 s in release (and a minute under ASan), which the test command's time budget needs.
  o.duration_s = cmd.duration_s > 0 ? cmd.duration_s : (smoke ? 0.02 : 0.3);
  o.warmup_s = cmd.warmup_s >= 0 ? cmd.warmup_s : (smoke ? 0.02 : 0.1);
  o.cell_timeout_s = cmd.cell_timeout_s;
  o.arrivals = cmd.arrival == "constant" ? harness::arrival::constant : harness::arrival::poisson;
  o.seed = cmd.seed;
  o.stall_ms_for_test = cmd.stall_ms_for_test;
  o.repetitions = cmd.repetitions > 0 ? cmd.repetitions : (smoke ? 1 : 5);
  o.min_window_requests = smoke ? 5 : 100;  // smoke checks that cells run, not their numbers
  o.corrupt_checksum_for_test = cmd.corrupt_checksum_for_test;
  return o;
}

// An open-loop window holds 1.5 x min_window_requests arrivals (cell_bench.cpp's measure); a --rate low enough
// makes that days of waiting. Refused here, naming the option, rather than found out a day later.
void check_open_loop_windows(const std::vector<double>& rates, const harness::run_options& o) {
  const double arrivals = 1.5 * o.min_window_requests;
  for (const double rate : rates)
    if (arrivals / rate > k_max_window_s)
      throw std::invalid_argument("--rate " + workloads::format_number(rate) + ": an open-loop window holds " +
                                  workloads::format_number(arrivals) + " arrivals, " +
                                  workloads::format_number(arrivals / rate) + " s at this rate, over the limit of " +
                                  workloads::format_number(k_max_window_s) + " s; the lowest rate is " +
                                  workloads::format_number(arrivals / k_max_window_s) + "/s");
}

// Google Benchmark's flags in conpar's terms (harness/benchmark_flags.cpp): a flag that conpar's own option
// also sets must agree with it. Returns the flags left for Google Benchmark itself.
std::vector<std::string> apply_benchmark_flags(run_command& cmd, const std::vector<std::string>& extras) {
  for (const auto& e : extras)
    if (e.rfind("--benchmark_", 0) != 0) throw std::invalid_argument("unknown option '" + e + "'");
  const harness::benchmark_flag_settings gb = harness::read_benchmark_flags(extras);
  cmd.list = cmd.list || gb.list;
  if (gb.repetitions) {
    if (cmd.repetitions > 0 && cmd.repetitions != *gb.repetitions)
      throw std::invalid_argument("--repetitions and --benchmark_repetitions disagree; give one");
    cmd.repetitions = *gb.repetitions;
  }
  if (gb.filter) {
    if (cmd.filter) throw std::invalid_argument("--filter and --benchmark_filter both given; give one");
    cmd.filter = gb.filter;
  }
  if (gb.out) {
    if (!cmd.out.empty() && cmd.out != *gb.out)
      throw std::invalid_argument("--out and --benchmark_out disagree; give one");
    cmd.out = *gb.out;
  }
  return gb.passed_on;
}

// The cells, the options and the results file, all checked before anything starts: bad input (exit 2) never
// costs a measurement. Throws std::invalid_argument naming the problem.
std::vector<harness::cell> check_run(run_command& cmd, const std::vector<std::unique_ptr<runners::runner>>& all,
                                     unsigned cores, const harness::run_options& options,
                                     const std::filesystem::path& out) {
  cmd.sel.params = parse_params(cmd.params);
  cmd.sel.filter = cmd.filter;
  std::vector<harness::cell> cells = harness::build_matrix(cmd.sel, all, cores);
  check_open_loop_windows(cmd.sel.rates, options);
  if (!cmd.list) harness::check_results_target(out);
  return cells;
}

int run_suite(run_command& cmd, const std::vector<std::string>& extras, const char* argv0) {
  std::vector<std::unique_ptr<runners::runner>> all = runners::make_runners();
  const unsigned cores = harness::available_cores();
  harness::bench_session session;
  std::filesystem::path out;
  std::vector<std::string> gb_flags;
  std::vector<harness::cell> cells;
  try {
    gb_flags = apply_benchmark_flags(cmd, extras);
    session.options = options_of(cmd);
    out = cmd.out.empty() ? "results/latest/" + cmd.suite + ".json" : cmd.out;
    cells = check_run(cmd, all, cores, session.options, out);
  } catch (const std::invalid_argument& e) {
    std::cerr << "conpar run: " << e.what() << "\n";
    return k_exit_bad_input;
  }
  if (cmd.list) {
    for (const auto& c : cells) std::cout << c.name << "\n";
    return 0;
  }

  // Google Benchmark's flags are checked before anything starts (calibration, worker processes).
  // One repetition per round (rounds.hpp) and one iteration (one window) per repetition.
  std::vector<std::string> flags = {argv0, "--benchmark_repetitions=1", "--benchmark_min_time=0.000001"};
  flags.insert(flags.end(), gb_flags.begin(), gb_flags.end());
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
  const harness::cpu_sample cpu_before = harness::sample_cpu();
  context["open_files_limit"] = {descriptors.soft, descriptors.hard};

  // The requests first (a workload's data, such as the memory workload's array, is made here), so that the
  // worker processes inherit it; then the forking runners start their processes, while this process is
  // still single-threaded.
  try {
    harness::prepare_cells(cells, session);
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

  const auto rounds = harness::interleaved_rounds(cells, session.options.repetitions, session.options.seed);
  std::vector<std::string> planned;
  std::map<std::size_t, int> reps;
  for (const auto& round : rounds)
    for (const std::size_t i : round)
      planned.push_back(cells[i].name + " " + std::to_string(++reps[i]) + "/" + std::to_string(session.options.repetitions));
  harness::progress_reporter reporter(std::move(planned));
  harness::round_rows rows(cells, session.options.repetitions);
  nlohmann::json doc;
  std::size_t ran = 0;
  for (const auto& round : rounds) {
    // The round a signal came in marked its cut cells "not run"; no more rounds. A signal before the first round
    // still lets it run, so every cell says so and the file is written as for any interrupted run.
    if (harness::interrupt_signal() != 0 && ran > 0) break;
    harness::register_round(cells, round, session);
    ran += benchmark::RunSpecifiedBenchmarks(&reporter);
    const std::string text = reporter.take_json();
    if (text.empty()) continue;  // nothing ran (Google Benchmark reports nothing for an empty round)
    nlohmann::json part = harness::parse_benchmark_json(text);
    rows.add(part["benchmarks"]);
    if (doc.is_null()) doc = std::move(part);  // Google Benchmark's context, from the first round
  }
  benchmark::ClearRegisteredBenchmarks();
  if (ran == 0) {
    std::cerr << "conpar run: no cell ran\n";
    return k_exit_bad_input;
  }
  doc["benchmarks"] = rows.benchmarks();
  const auto load = harness::load_average();
  context["load_avg_after"] = {load[0], load[1], load[2]};
  const harness::other_load other = harness::other_load_between(cpu_before, harness::sample_cpu(), cores);
  context["other_busy_cores"] = other.other_busy_cores;  // the honest "was the machine busy" (other_load.hpp)
  context["steal_fraction"] = other.steal_fraction;
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
  app.set_version_flag("--version", "conpar " CONPAR_VERSION);
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
      {"compare", "compare.py", "judge NEW against BASE: exit 0 ok, 1 regression, 2 bad input, 3 errors, 4 too noisy, 5 missing in NEW, 6 output not written"},
      {"ab", "ab.py", "run two builds interleaved (A B, B A, ...) on this machine and compare them"},
      {"gate", "gate.py", "build two git revisions, run ab on the headline cells, write a PR summary (compare's exit codes)"},
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
