#include "harness/rounds.hpp"

#include "harness/results_file.hpp"

#include <random>
#include <stdexcept>
#include <utility>

namespace conpar::harness {

std::vector<std::vector<std::size_t>> interleaved_rounds(const std::vector<cell>& cells, int repetitions,
                                                         std::uint64_t seed) {
  std::vector<std::size_t> phases[2];
  for (std::size_t i = 0; i < cells.size(); ++i) phases[cells[i].rate_fraction > 0 ? 1 : 0].push_back(i);
  // mt19937_64 is the same sequence everywhere; std::shuffle and the distributions are not, so the
  // Fisher-Yates shuffle is written out: the seed in the context then names one order on every machine.
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::size_t>> rounds;
  for (const auto& phase : phases) {
    if (phase.empty()) continue;
    for (int r = 0; r < repetitions; ++r) {
      std::vector<std::size_t> order = phase;
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
      rounds.push_back(std::move(order));
    }
  }
  return rounds;
}

round_rows::round_rows(const std::vector<cell>& cells, int repetitions)
    : m_rows(cells.size()), m_repetitions(repetitions) {
  for (std::size_t i = 0; i < cells.size(); ++i) m_index[cells[i].name] = i;
}

void round_rows::add(const nlohmann::json& benchmarks) {
  for (nlohmann::json b : benchmarks) {
    const auto it = m_index.find(without_manual_time(b.value("run_name", "")));
    if (it == m_index.end()) throw std::logic_error("a result row names no cell: " + b.value("run_name", ""));
    auto& rows = m_rows[it->second];
    // Google Benchmark numbers the families in the order they were registered, which is shuffled per round.
    b["family_index"] = it->second;
    b["per_family_instance_index"] = 0;
    b["repetition_index"] = rows.size();
    b["repetitions"] = m_repetitions;
    b["run_order"] = m_ran++;  // when it ran: drift over the run can be plotted, and tests follow the order
    rows.push_back(std::move(b));
  }
}

nlohmann::json round_rows::benchmarks() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& rows : m_rows)
    for (const auto& b : rows) out.push_back(b);
  return out;
}

}  // namespace conpar::harness
