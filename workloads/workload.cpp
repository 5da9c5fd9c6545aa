#include "workloads/workload.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace conpar::workloads {

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string workload_spec::key() const {
  std::string k = workload;
  for (const auto& [name, value] : params) k += "/" + name + ":" + format_number(value);
  return k;
}

const workload_def* find_workload(std::string_view name) noexcept {
  const auto& all = catalog();
  const auto it = std::find_if(all.begin(), all.end(), [&](const workload_def& d) { return d.name == name; });
  return it == all.end() ? nullptr : &*it;
}

param_values resolve_params(const workload_def& def, const param_values& overrides) {
  for (const auto& [name, value] : overrides) {
    const bool known = std::any_of(def.params.begin(), def.params.end(),
                                   [&](const param_def& p) { return p.name == name; });
    if (!known) throw std::invalid_argument("workload '" + std::string(def.name) + "' has no parameter '" + name + "'");
  }
  param_values out;
  for (const param_def& p : def.params) {
    double v = p.default_value;
    for (const auto& [name, value] : overrides)
      if (name == p.name) v = value;
    if (!(v >= p.min_value && v <= p.max_value))  // also rejects NaN
      throw std::invalid_argument(std::string(def.name) + " parameter " + std::string(p.name) + "=" + format_number(v) +
                                  " is outside [" + format_number(p.min_value) + ", " + format_number(p.max_value) +
                                  "] (" + std::string(p.meaning) + ")");
    out.emplace_back(std::string(p.name), v);
  }
  return out;
}

workload_spec make_spec(const workload_def& def, const param_values& params, const calibration& cal) {
  workload_spec spec;
  spec.workload = std::string(def.name);
  spec.params = resolve_params(def, params);
  def.build(spec, cal);
  return spec;
}

}  // namespace conpar::workloads
