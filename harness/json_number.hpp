#pragma once
// A results row's numeric field, or nothing when it is missing or not a number: the one look-up that the
// results file's post-processing (results_file.cpp) and the sweeps' derived counters (sweeps.cpp) share.
#include <nlohmann/json.hpp>

#include <optional>

namespace conpar::harness {

inline std::optional<double> json_number(const nlohmann::json& row, const char* key) {
  const auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace conpar::harness
