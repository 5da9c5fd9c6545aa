#pragma once
// Google Benchmark's --benchmark_* flags on conpar's command line: each one either does what a Google
// Benchmark user expects, through conpar's own option, or is refused naming conpar's option for it.

#include <optional>
#include <string>
#include <vector>

namespace conpar::harness {

// What the accepted flags ask for, in conpar's terms; unset fields were not given.
struct benchmark_flag_settings {
  bool list = false;                   // --benchmark_list_tests
  std::optional<int> repetitions;      // --benchmark_repetitions=N
  std::optional<std::string> filter;   // --benchmark_filter=REGEX (searched in the names, as --filter is)
  std::optional<std::string> out;      // --benchmark_out=FILE (JSON, as --out)
  std::vector<std::string> passed_on;  // flags Google Benchmark itself handles (--benchmark_context=K=V)
};

// Reads every --benchmark_* flag in `flags`. Throws std::invalid_argument naming the flag, why conpar does
// not take it and the conpar option to use instead.
[[nodiscard]] benchmark_flag_settings read_benchmark_flags(const std::vector<std::string>& flags);

}  // namespace conpar::harness
