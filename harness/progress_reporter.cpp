#include "harness/progress_reporter.hpp"

#include <cstdio>
#include <iostream>

namespace conpar::harness {
namespace {

double counter(const benchmark::BenchmarkReporter::Run& r, const char* name) {
  const auto it = r.counters.find(name);
  return it == r.counters.end() ? -1 : it->second.value;
}

}  // namespace

progress_reporter::progress_reporter(std::size_t cells) : m_cells(cells) {
  m_json.SetOutputStream(&m_json_text);
  m_json.SetErrorStream(&std::cerr);
}

bool progress_reporter::ReportContext(const Context& context) { return m_json.ReportContext(context); }

void progress_reporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& r : runs) {
    const std::string name = r.run_name.str();
    if (r.run_type == Run::RT_Iteration) {
      ++m_runs;
      if (name != m_current) {
        m_current = name;
        ++m_cell;
      }
      if (r.error_occurred) {
        ++m_errors;
        std::fprintf(stderr, "[%zu/%zu] %s rep %lld: ERROR: %s\n", m_cell, m_cells, name.c_str(),
                     static_cast<long long>(r.repetition_index + 1), r.error_message.c_str());
        continue;
      }
    } else if (r.aggregate_name != "median") {
      continue;
    }
    const std::string what = r.run_type == Run::RT_Iteration ? "rep " + std::to_string(r.repetition_index + 1) : "median";
    const double p99 = counter(r, "latency_p99_us");
    std::printf("[%zu/%zu] %-64s %-7s %12.0f req/s  p99 %9s us  busy %.2f cores\n", m_cell, m_cells, name.c_str(),
                what.c_str(), counter(r, "items_per_second"), p99 < 0 ? "-" : std::to_string(p99).substr(0, 8).c_str(),
                counter(r, "busy_cores"));
  }
  std::fflush(stdout);
  m_json.ReportRuns(runs);
}

void progress_reporter::Finalize() { m_json.Finalize(); }

}  // namespace conpar::harness
