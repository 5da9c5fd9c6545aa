// The order the cells run in: repetitions interleaved in rounds, as Google Benchmark's random interleaving does,
// but seeded and in rounds, so that a slow drift of the machine (a neighbour, the clock, the page cache) hits
// every runner of an experiment alike instead of whichever cell happened to run last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/matrix.hpp"

namespace conpar::harness {

// Each round runs every cell of its phase once, in an order shuffled per round from `seed`; every cell runs its
// round r before any runs round r + 1. Two phases: first the cells that need no peak, then the open-loop cells
// that offer a fraction of a closed-loop peak, since those scale from the median of all its repetitions.
// Returns the rounds in run order, each a list of indices into `cells`.
std::vector<std::vector<std::size_t>> interleaved_rounds(const std::vector<cell>& cells, int repetitions,
                                                         std::uint64_t seed);

// Collects the rows Google Benchmark writes in each round (one repetition of each cell it ran) into one list:
// each cell's rows together, in the cells' order, numbered by repetition, as one Google Benchmark run of every
// cell's repetitions in a row would have written them.
class round_rows {
 public:
  round_rows(const std::vector<cell>& cells, int repetitions);
  // One round's "benchmarks" array. Throws std::logic_error on a row that names no cell.
  void add(const nlohmann::json& benchmarks);
  [[nodiscard]] nlohmann::json benchmarks() const;

 private:
  std::map<std::string, std::size_t> m_index;  // cell name -> its index
  std::vector<std::vector<nlohmann::json>> m_rows;
  int m_repetitions;
  std::size_t m_ran = 0;
};

}  // namespace conpar::harness
