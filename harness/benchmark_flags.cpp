#include "harness/benchmark_flags.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string_view>

namespace conpar::harness {
namespace {

// Google Benchmark's own flags (1.7.1, benchmark.cc) that conpar cannot honour, and what to use instead.
// Each would otherwise corrupt numbers silently: --benchmark_min_time=0.5 once ran 0.5 s windows of a
// 10 ms-request cell through Google Benchmark's iteration loop and reported 701 req/s for 10,000.
struct refused_flag {
  std::string_view name;
  std::string_view why;
};
constexpr refused_flag k_refused[] = {
    {"benchmark_min_time", "conpar measures one window per repetition: use --duration SECONDS"},
    {"benchmark_min_warmup_time", "conpar warms every cell up before its window: use --warmup SECONDS"},
    {"benchmark_enable_random_interleaving",
     "conpar always interleaves the repetitions, in rounds seeded by --seed; to interleave two builds use conpar ab"},
    {"benchmark_report_aggregates_only",
     "the results file keeps every repetition (the report and conpar compare read them)"},
    {"benchmark_display_aggregates_only", "conpar prints one line per repetition; the aggregates are in --out FILE"},
    {"benchmark_counters_tabular", "conpar prints one line per repetition; the counters are in --out FILE"},
    {"benchmark_color", "conpar prints one line per repetition and colours nothing"},
    {"benchmark_perf_counters", "conpar records CPU time and context switches itself (results/README.md)"},
    {"benchmark_time_unit", "conpar writes real_time and cpu_time per request in ns"},
};

bool parse_bool(std::string_view name, std::string_view value) {
  if (value.empty() || value == "true" || value == "1" || value == "yes" || value == "t" || value == "y") return true;
  if (value == "false" || value == "0" || value == "no" || value == "f" || value == "n") return false;
  throw std::invalid_argument("--" + std::string(name) + "=" + std::string(value) + ": not true or false");
}

}  // namespace

benchmark_flag_settings read_benchmark_flags(const std::vector<std::string>& flags) {
  benchmark_flag_settings s;
  for (const std::string& flag : flags) {
    if (flag.rfind("--benchmark_", 0) != 0) continue;
    const auto eq = flag.find('=');
    const std::string name = flag.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const bool has_value = eq != std::string::npos;
    const std::string value = has_value ? flag.substr(eq + 1) : "";
    const auto needs_value = [&] {
      if (!has_value || value.empty())
        throw std::invalid_argument("--" + name + " wants a value: --" + name + "=VALUE");
    };
    if (const auto* r = std::find_if(std::begin(k_refused), std::end(k_refused),
                                     [&](const refused_flag& x) { return x.name == name; });
        r != std::end(k_refused))
      throw std::invalid_argument("--" + name + " is not taken: " + std::string(r->why));
    if (name == "benchmark_list_tests") {
      s.list = parse_bool(name, value);
    } else if (name == "benchmark_repetitions") {
      needs_value();
      int n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || end != value.data() + value.size() || n < 1 || n > 1000)
        throw std::invalid_argument("--benchmark_repetitions=" + value + ": not a whole number in [1, 1000]");
      s.repetitions = n;
    } else if (name == "benchmark_filter") {
      needs_value();
      // Google Benchmark's "-REGEX" excludes; conpar's --filter only selects, so that is refused, not misread.
      if (value.front() == '-')
        throw std::invalid_argument("--benchmark_filter=" + value +
                                    ": a negative filter is not taken; use --filter with a regex that selects");
      s.filter = value;
    } else if (name == "benchmark_out") {
      needs_value();
      s.out = value;
    } else if (name == "benchmark_out_format") {
      if (value != "json")
        throw std::invalid_argument("--benchmark_out_format=" + value + " is not taken: conpar writes JSON only (--out FILE)");
    } else if (name == "benchmark_format") {
      // conpar's console output is its progress lines; JSON goes to --out.
      if (value != "console")
        throw std::invalid_argument("--benchmark_format=" + value +
                                    " is not taken: conpar prints its progress lines and writes JSON to --out FILE");
    } else if (name == "benchmark_context") {
      needs_value();
      s.passed_on.push_back(flag);  // Google Benchmark adds KEY=VALUE to the results' context
    } else {
      throw std::invalid_argument("unknown Google Benchmark flag '" + flag + "' (conpar run --help lists conpar's options)");
    }
  }
  return s;
}

}  // namespace conpar::harness
