// Runs the conpar binary under test (CONPAR_BINARY) as a child process and reads what it wrote, for the
// end-to-end tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace conpar::test_support {

// Forks and execs conpar with `args`, stdout and stderr to `log`; `in_child` runs in the child first
// (limits, signal dispositions). Returns the pid, or -1 if fork() failed.
inline pid_t start_conpar(const std::vector<std::string>& args, const std::filesystem::path& log,
                          const std::function<void()>& in_child = {}) {
  std::cout.flush();  // else the child inherits the unwritten buffer and writes it a second time
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (in_child) in_child();
  if (!std::freopen(log.c_str(), "w", stdout) || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(126);
  std::vector<char*> argv{const_cast<char*>(CONPAR_BINARY)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(CONPAR_BINARY, argv.data());
  _exit(127);
}

struct conpar_outcome {
  int code = -1;  // the exit code, or 128 + signal
  std::string output;
  double seconds = 0;
};

// Runs conpar to the end; `meanwhile` runs in the test while conpar does, given its pid.
inline conpar_outcome run_conpar(const std::vector<std::string>& args, const std::function<void()>& in_child = {},
                                 const std::function<void(pid_t)>& meanwhile = {}) {
  const auto log = std::filesystem::temp_directory_path() / ("conpar_test_" + std::to_string(getpid()) + ".log");
  const auto start = std::chrono::steady_clock::now();
  conpar_outcome o;
  const pid_t pid = start_conpar(args, log, in_child);
  if (pid < 0) return o;
  if (meanwhile) meanwhile(pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log);
  o.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::filesystem::remove(log);
  return o;
}

// The per-repetition rows of a results file (aggregates left out).
// A results file's repetitions in the order they ran (run_order: the rounds shuffle the cells).
inline nlohmann::json iteration_rows(const std::filesystem::path& results) {
  std::vector<nlohmann::json> rows;
  const auto doc = nlohmann::json::parse(std::ifstream(results));
  for (const auto& b : doc["benchmarks"])
    if (b["run_type"] == "iteration") rows.push_back(b);
  std::stable_sort(rows.begin(), rows.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("run_order", 0) < b.value("run_order", 0);
  });
  return nlohmann::json(rows);
}

}  // namespace conpar::test_support
