// What the person running the suite sees: one line per cell and, on a terminal only, a live status line
// (cell k of n, elapsed, time left); the JSON is captured whole for the results file.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace conpar::harness {

class progress_reporter final : public benchmark::BenchmarkReporter {
 public:
  explicit progress_reporter(std::vector<std::string> cell_names);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  [[nodiscard]] std::string json() const { return m_json_text.str(); }
  [[nodiscard]] std::size_t errors() const noexcept { return m_errors; }
  [[nodiscard]] std::size_t runs() const noexcept { return m_runs; }

 private:
  void print_status() const;

  benchmark::JSONReporter m_json;
  std::ostringstream m_json_text;
  std::vector<std::string> m_cells;
  std::size_t m_done = 0;
  std::size_t m_errors = 0;
  std::size_t m_runs = 0;
  std::size_t m_reps = 0;    // of the cell being reported
  std::size_t m_failed = 0;  // of the cell being reported
  bool m_terminal;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

}  // namespace conpar::harness
