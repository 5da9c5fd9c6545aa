// What the person running the suite sees: one line per repetition of a cell and, on a terminal only, a live status
// line (repetition k of n, elapsed, time left); each round's JSON is captured whole for the results file.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace conpar::harness {

class progress_reporter final : public benchmark::BenchmarkReporter {
 public:
  // Every repetition the run will make, in run order ("cell rep 2/5"), for the status line.
  explicit progress_reporter(std::vector<std::string> planned);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  // The JSON Google Benchmark wrote since the last call: one round's document.
  [[nodiscard]] std::string take_json();
  [[nodiscard]] std::size_t errors() const noexcept { return m_errors; }
  [[nodiscard]] std::size_t runs() const noexcept { return m_done; }

 private:
  void print_status() const;

  // One per round: a JSONReporter writes one document, and remembers across calls that it wrote a row.
  std::unique_ptr<benchmark::JSONReporter> m_json;
  std::ostringstream m_json_text;
  std::vector<std::string> m_planned;
  std::size_t m_done = 0;
  std::size_t m_errors = 0;
  bool m_terminal;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

}  // namespace conpar::harness
