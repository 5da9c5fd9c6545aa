#include "harness/matrix.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <stdexcept>

namespace conpar::harness {
namespace {

using workloads::load_point;

bool wanted(const std::vector<std::string>& picked, std::string_view name) {
  return picked.empty() || std::find(picked.begin(), picked.end(), name) != picked.end();
}

// The user's --workers / --concurrency replace every sweep's load levels.
std::vector<load_point> loads_from(const selection& sel, const std::vector<load_point>& defaults) {
  if (sel.workers.empty() && sel.concurrency.empty()) return defaults;
  std::vector<load_point> loads;
  if (sel.concurrency.empty())
    for (unsigned w : sel.workers) loads.push_back({w, w});
  else if (sel.workers.empty())
    for (unsigned c : sel.concurrency) loads.push_back({std::min(c, runners::k_worker_pool_cap), c});
  else
    for (unsigned w : sel.workers)
      for (unsigned c : sel.concurrency) loads.push_back({w, c});
  return loads;
}

// --filter is matched by libstdc++'s polynomial (Thompson-style, breadth-first) executor, not its backtracking
// one: a pattern such as (.*)*(.*)*z took minutes against one name. That executor's cost grows with the
// automaton's size, which the length limit and the ban on counted repetition ({m,n} copies its operand m to n
// times) keep small; the length limit also bounds the compiler's recursion (100,000 characters overflowed the
// stack). Back-references have no polynomial form, so libstdc++ refuses them.
constexpr std::size_t k_filter_max_chars = 512;

std::regex compile_filter(const std::string& filter) {
  std::string shown = filter.substr(0, 80);  // a 100,000-character filter is named, not printed
  if (shown.size() < filter.size()) shown += "...";
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("invalid --filter regex '" + shown + "': " + why);
  };
  if (filter.empty()) throw bad("it is empty (leave --filter out to run every cell)");
  if (filter.size() > k_filter_max_chars)
    throw bad(std::to_string(filter.size()) + " characters, more than the limit of " +
              std::to_string(k_filter_max_chars));
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '\\') ++i;  // an escaped character, \{ included, is a literal
    else if (filter[i] == '{') throw bad("counted repetition {m,n} is not supported (write \\{ for a brace)");
  }
  constexpr auto k_flags = std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial;
  try {
    (void)std::regex(filter, k_flags);  // alone first, so that "a)|(b" cannot regroup the wrapper below
    // A whole-name match of "anything, the filter, anything" is a search in one pass over the name, where
    // regex_search would start over at every position. ^ and $ keep their meaning: only the ends match them.
    std::string wrapped = "[\\s\\S]*(?:";
    wrapped.append(filter).append(")[\\s\\S]*");
    return std::regex(wrapped, k_flags);
  } catch (const std::regex_error& e) {
    throw bad(e.what());
  }
}

// What a runner of this shape runs when a sweep asks for `p`; nullopt when the level does not apply.
std::optional<load_point> adapt(runners::runner_shape shape, load_point p) {
  switch (shape) {
    case runners::runner_shape::sequential: return load_point{1, 1};
    case runners::runner_shape::event_loop: return load_point{1, p.concurrency};  // one loop thread, always
    case runners::runner_shape::worker_pool:
      if (p.workers > runners::k_worker_pool_cap) return std::nullopt;
      return p;
  }
  return std::nullopt;
}

// The user's load levels, checked before any cell is made: a worker level above the pools' cap would otherwise
// be dropped from every pool runner without a word.
void check_levels(const selection& sel) {
  for (const unsigned w : sel.workers)
    if (w == 0 || w > runners::k_worker_pool_cap)
      throw std::invalid_argument("--workers " + std::to_string(w) + ": workers must be 1 to " +
                                  std::to_string(runners::k_worker_pool_cap) +
                                  " (the cap on a pool's threads or processes, runners::k_worker_pool_cap)");
  for (const unsigned c : sel.concurrency)
    if (c == 0) throw std::invalid_argument("--concurrency 0: concurrency must be at least 1");
}

}  // namespace

std::vector<cell> build_matrix(const selection& sel, const std::vector<std::unique_ptr<runners::runner>>& all_runners,
                               unsigned cores) {
  for (const auto& w : sel.workloads)
    if (!workloads::find_workload(w)) {
      std::string known;
      for (const auto& d : workloads::catalog()) known += " " + std::string(d.name);
      throw std::invalid_argument("unknown workload '" + w + "' (known:" + known + ")");
    }
  for (const auto& r : sel.runners)
    if (std::none_of(all_runners.begin(), all_runners.end(), [&](const auto& x) { return x->name() == r; })) {
      std::string known;
      for (const auto& x : all_runners) known += " " + std::string(x->name());
      throw std::invalid_argument("unknown runner '" + r + "' (known:" + known + ")");
    }
  check_levels(sel);
  std::optional<std::regex> filter;
  if (sel.filter) filter = compile_filter(*sel.filter);

  std::vector<cell> cells;
  std::set<std::string> seen;
  bool param_used = sel.params.empty();
  for (const auto& def : workloads::catalog()) {
    if (!wanted(sel.workloads, def.name)) continue;
    // --param applies to the workloads that have that parameter.
    workloads::param_values mine;
    for (const auto& p : sel.params)
      if (std::any_of(def.params.begin(), def.params.end(), [&](const auto& d) { return d.name == p.first; }))
        mine.push_back(p);
    param_used = param_used || !mine.empty();
    auto points = def.defaults(cores);
    // A workload with no default cells (e.g. `fault`) runs at its default parameters when asked for a load.
    if (points.empty() && (!sel.workers.empty() || !sel.concurrency.empty())) points.push_back({});
    for (const auto& point : points) {
      workloads::param_values params = point.params;
      for (const auto& [k, v] : mine) {
        auto it = std::find_if(params.begin(), params.end(), [&](const auto& x) { return x.first == k; });
        if (it == params.end()) params.emplace_back(k, v); else it->second = v;
      }
      params = workloads::resolve_params(def, params);
      for (const auto& r : all_runners) {
        if (!wanted(sel.runners, r->name())) continue;
        for (const load_point requested : loads_from(sel, point.loads)) {
          const auto load = adapt(r->shape(), requested);
          if (!load) continue;
          const std::string base = std::string(def.name) + "/" + std::string(r->name()) + "/workers:" +
                                   std::to_string(load->workers) + "/concurrency:" + std::to_string(load->concurrency);
          std::string shape;
          for (const auto& [k, v] : params) shape += "/" + k + ":" + workloads::format_number(v);
          const auto add = [&](cell c) {
            if (filter && !std::regex_match(c.name, *filter)) return;
            if (seen.insert(c.name).second) {
              cells.push_back(std::move(c));
              return;
            }
            auto& same = *std::find_if(cells.begin(), cells.end(), [&](const cell& x) { return x.name == c.name; });
            for (auto& s : c.sweeps)
              if (std::find(same.sweeps.begin(), same.sweeps.end(), s) == same.sweeps.end()) same.sweeps.push_back(s);
          };
          std::vector<std::string> sweeps;
          if (!point.sweep.empty()) sweeps.emplace_back(point.sweep);
          const cell closed{&def, params, r.get(), *load, 0, 0, "", sweeps, base + shape};
          if (sel.rates.empty()) add(closed);
          for (const double rate : sel.rates)
            add({&def, params, r.get(), *load, rate, 0, "", {}, base + "/rate:" + workloads::format_number(rate) + shape});
          // The defaults' open-loop sweeps go with the defaults' load levels; chosen levels get only what is asked.
          // seq's go unless asked for: it serves one request at a time, so fractions of its peak are rates so
          // low (25/s for 10 ms sleeps) that the windows holding enough arrivals for a p99 took 80 s of the
          // suite's 10 minutes, to show one queue.
          const bool default_loads = sel.workers.empty() && sel.concurrency.empty();
          const bool default_sweep = sel.rates.empty() && default_loads && r->shape() != runners::runner_shape::sequential;
          const auto& fractions = !sel.rate_fractions.empty() ? sel.rate_fractions
                                  : default_sweep             ? point.rate_fractions
                                                              : std::vector<double>{};
          for (const double f : fractions)
            add({&def, params, r.get(), *load, 0, f, closed.name, {},
                 base + "/rate_fraction:" + workloads::format_number(f) + shape});
        }
      }
    }
  }
  // An open-loop cell scaled from a peak needs that closed-loop cell earlier in the same run.
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cells[i].rate_fraction == 0) continue;
    const bool before = std::any_of(cells.begin(), cells.begin() + static_cast<std::ptrdiff_t>(i),
                                    [&](const cell& c) { return c.name == cells[i].peak_cell; });
    if (!before)
      throw std::invalid_argument("cell " + cells[i].name + " is offered a fraction of the peak of " +
                                  cells[i].peak_cell + ", which the selection leaves out (widen --filter)");
  }
  if (!param_used) throw std::invalid_argument("no selected workload has parameter '" + sel.params.front().first + "'");
  if (cells.empty()) throw std::invalid_argument("the selection matches no cell" + (sel.filter ? " (filter '" + *sel.filter + "')" : std::string()));
  return cells;
}

}  // namespace conpar::harness
