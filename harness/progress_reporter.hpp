// What the person running the suite sees: one compact line per repetition, while the JSON is captured whole.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <sstream>
#include <string>

namespace conpar::harness {

// Prints "[k/n] name  rep i  throughput  p99  busy cores" per repetition and the median row, errors to stderr;
// forwards everything to a JSONReporter writing into memory (the results file is written atomically later).
class progress_reporter final : public benchmark::BenchmarkReporter {
 public:
  explicit progress_reporter(std::size_t cells);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  [[nodiscard]] std::string json() const { return m_json_text.str(); }
  [[nodiscard]] std::size_t errors() const noexcept { return m_errors; }
  [[nodiscard]] std::size_t runs() const noexcept { return m_runs; }

 private:
  benchmark::JSONReporter m_json;
  std::ostringstream m_json_text;
  std::size_t m_cells;
  std::size_t m_cell = 0;
  std::size_t m_errors = 0;
  std::size_t m_runs = 0;
  std::string m_current;
};

}  // namespace conpar::harness
