#include "harness/progress_reporter.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace conpar::harness {
namespace {

double counter(const benchmark::BenchmarkReporter::Run& r, const char* name) {
  const auto it = r.counters.find(name);
  return it == r.counters.end() ? -1 : it->second.value;
}

// The cell's name as conpar writes it, without Google Benchmark's "/manual_time".
std::string display_name(const benchmark::BenchmarkReporter::Run& r) {
  std::string name = r.run_name.str();
  if (const auto at = name.find("/manual_time"); at != std::string::npos) name.erase(at);
  return name;
}

std::string clock_text(double seconds) {
  char buf[32];
  const long s = static_cast<long>(seconds + 0.5);
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

progress_reporter::progress_reporter(std::vector<std::string> cell_names)
    : m_cells(std::move(cell_names)), m_terminal(::isatty(STDOUT_FILENO) == 1) {
  m_json.SetOutputStream(&m_json_text);
  m_json.SetErrorStream(&std::cerr);
}

bool progress_reporter::ReportContext(const Context& context) {
  print_status();
  return m_json.ReportContext(context);
}

// Google Benchmark reports a cell in two calls: its repetitions, then (when there are several) its
// aggregates. The cell's line is printed from the median, or from the single repetition.
void progress_reporter::ReportRuns(const std::vector<Run>& runs) {
  m_json.ReportRuns(runs);
  if (runs.empty()) return;
  const bool aggregates = runs.front().run_type == Run::RT_Aggregate;
  const Run* summary = nullptr;
  if (!aggregates) {
    m_reps = m_failed = 0;
    for (const Run& r : runs) {
      ++m_runs;
      ++m_reps;
      if (r.error_occurred) {
        ++m_failed;
        if (m_terminal) std::fputs("\r\033[K", stdout);
        std::fflush(stdout);
        std::fprintf(stderr, "%s rep %lld: ERROR: %s\n", display_name(r).c_str(),
                     static_cast<long long>(r.repetition_index + 1), r.error_message.c_str());
      } else {
        summary = &r;
      }
    }
    m_errors += m_failed;
    // With several repetitions and no failure, the aggregates follow and carry the median.
    if (runs.front().repetitions > 1 && m_failed == 0) return;
  } else {
    for (const Run& r : runs)
      if (r.aggregate_name == "median") summary = &r;
    if (m_failed > 0) return;  // already reported from the repetitions
  }
  ++m_done;
  if (m_terminal) std::fputs("\r\033[K", stdout);
  if (summary && m_failed == 0) {
    const double p99 = counter(*summary, "latency_p99_us");
    std::printf("[%zu/%zu] %-66s %12.0f req/s  p99 %10s us  %.2f busy cores\n", m_done, m_cells.size(),
                display_name(*summary).c_str(), counter(*summary, "items_per_second"),
                p99 < 0 ? "-" : std::to_string(p99).substr(0, 9).c_str(), counter(*summary, "busy_cores"));
  } else {
    std::printf("[%zu/%zu] %-66s %zu of %zu repetitions failed\n", m_done, m_cells.size(),
                display_name(runs.front()).c_str(), m_failed, m_reps);
  }
  print_status();
}

void progress_reporter::print_status() const {
  if (!m_terminal || m_done >= m_cells.size()) {
    std::fflush(stdout);
    return;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  const std::string left =
      m_done == 0 ? "?" : clock_text(elapsed / static_cast<double>(m_done) * static_cast<double>(m_cells.size() - m_done));
  std::printf("running %zu/%zu %s  elapsed %s  left ~%s", m_done + 1, m_cells.size(), m_cells[m_done].c_str(),
              clock_text(elapsed).c_str(), left.c_str());
  std::fflush(stdout);
}

void progress_reporter::Finalize() {
  if (m_terminal) std::fputs("\r\033[K", stdout);
  m_json.Finalize();
}

}  // namespace conpar::harness
