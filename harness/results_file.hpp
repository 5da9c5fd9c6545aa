// Turns Google Benchmark's JSON into conpar's results document and writes it without ever leaving a partial file.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace conpar::harness {

// Bumped whenever a field changes meaning; `compare` refuses to mix versions.
inline constexpr int k_schema_version = 1;

// A repetition spread above this coefficient of variation marks a cell noisy.
inline constexpr double k_noise_cv_limit = 0.05;

// Parses Google Benchmark's JSON; its bare NaN / Infinity tokens (e.g. the CV of an all-zero counter)
// are not JSON and become null. Throws nlohmann::json::parse_error on anything else.
[[nodiscard]] nlohmann::json parse_benchmark_json(std::string text);

// A cell's name as conpar writes it: Google Benchmark's "/manual_time" removed wherever it stands.
[[nodiscard]] std::string without_manual_time(std::string name);

// Strips Google Benchmark's "/manual_time" suffix from names, attaches each repetition's histogram, makes
// real_time and cpu_time per request, computes each cell's aggregates over its repetitions (aggregates.hpp;
// any aggregate rows given are dropped) and marks cells whose throughput CV exceeds k_noise_cv_limit (`noisy`
// on every row of the cell). Each cell's repetitions must be together, in repetition order.
void finish_results(nlohmann::json& doc, const std::map<std::string, std::vector<nlohmann::json>>& histograms);

// Checks, before any work, that results can be written to `path`: it is absent or a regular file (never a
// directory, a device node, a FIFO or a symbolic link, whose target a rename would not replace), and a file
// can be created beside it (its folder is made if missing). Throws std::invalid_argument naming `path`.
void check_results_target(const std::filesystem::path& path);

// Writes to a temporary file beside `path`, flushes, then renames over `path`: readers see the old file
// or the complete new one, never a truncated one. Checks `path` again as check_results_target does (it may
// have changed during the run). Throws std::runtime_error naming `path` (never the temporary file) and errno.
void write_atomically(const std::filesystem::path& path, const std::string& content);

}  // namespace conpar::harness
