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

progress_reporter::progress_reporter(std::vector<std::string> planned)
    : m_planned(std::move(planned)), m_terminal(::isatty(STDOUT_FILENO) == 1) {
  take_json();
}

std::string progress_reporter::take_json() {
  std::string text = m_json_text.str();
  m_json_text.str("");
  m_json = std::make_unique<benchmark::JSONReporter>();
  m_json->SetOutputStream(&m_json_text);
  m_json->SetErrorStream(&std::cerr);
  return text;
}

bool progress_reporter::ReportContext(const Context& context) {
  print_status();
  return m_json->ReportContext(context);
}

// A round runs each cell once, so Google Benchmark reports a cell's one repetition at a time, without aggregates.
void progress_reporter::ReportRuns(const std::vector<Run>& runs) {
  m_json->ReportRuns(runs);
  for (const Run& r : runs) {
    if (r.run_type != Run::RT_Iteration) continue;
    const std::string rep = m_done < m_planned.size() ? m_planned[m_done].substr(m_planned[m_done].rfind(' ') + 1) : "";
    ++m_done;
    if (m_terminal) std::fputs("\r\033[K", stdout);
    if (r.error_occurred) {
      ++m_errors;
      std::fflush(stdout);
      std::fprintf(stderr, "%s rep %s: ERROR: %s\n", display_name(r).c_str(), rep.c_str(), r.error_message.c_str());
      std::printf("[%zu/%zu] %-66s rep %-5s failed\n", m_done, m_planned.size(), display_name(r).c_str(), rep.c_str());
    } else {
      const double p99 = counter(r, "latency_p99_us");
      std::printf("[%zu/%zu] %-66s rep %-5s %12.0f req/s  p99 %10s us  %.2f busy cores\n", m_done, m_planned.size(),
                  display_name(r).c_str(), rep.c_str(), counter(r, "items_per_second"),
                  p99 < 0 ? "-" : std::to_string(p99).substr(0, 9).c_str(), counter(r, "busy_cores"));
    }
  }
  print_status();
}

void progress_reporter::print_status() const {
  if (!m_terminal || m_done >= m_planned.size()) {
    std::fflush(stdout);
    return;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  const std::string left = m_done == 0 ? "?"
                                       : clock_text(elapsed / static_cast<double>(m_done) *
                                                    static_cast<double>(m_planned.size() - m_done));
  std::printf("running %zu/%zu %s  elapsed %s  left ~%s", m_done + 1, m_planned.size(), m_planned[m_done].c_str(),
              clock_text(elapsed).c_str(), left.c_str());
  std::fflush(stdout);
}

void progress_reporter::Finalize() {
  if (m_terminal) std::fputs("\r\033[K", stdout);
  m_json->Finalize();
}

}  // namespace conpar::harness
