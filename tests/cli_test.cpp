// The conpar command line end to end: bad input exits 2 having started nothing, a corrupted checksum
// becomes an error row and exit 3, a good run writes complete, validated JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/leak_check.hpp"

namespace {

namespace fs = std::filesystem;

struct outcome {
  int code;
  std::string output;
};

// `shell` runs first in the same shell (e.g. a ulimit the run inherits).
outcome conpar(const std::string& args, const std::string& shell = "") {
  const fs::path log = fs::temp_directory_path() / ("conpar_cli_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = shell + std::string(CONPAR_BINARY) + " " + args + " >" + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

fs::path temp_json(const std::string& name) {
  return fs::temp_directory_path() / ("conpar_cli_" + std::to_string(::getpid()) + "_" + name + ".json");
}

const char* k_tiny = "run --suite smoke --workload cpu --param work_us=5 --runner seq,coro --workers 1";

TEST(Cli, BadInputIsExitTwoWithAMessageNamingIt) {
  const conpar::test_support::leak_check leaks;
  const std::pair<std::string, std::string> cases[] = {
      {"run --workers 0", "workers"},
      {"run --workers -3", "workers"},
      {"run --concurrency 0", "concurrency"},
      {"run --workers 1000000", "workers"},
      {"run --concurrency 99999999", "concurrency"},
      {"run --duration 1e9", "duration"},
      {"run --warmup -1", "warmup"},
      {"run --runner nope", "unknown runner 'nope'"},
      {"run --workload nope", "unknown workload 'nope'"},
      {"run --filter '['", "invalid --filter regex"},
      {"run --filter zzz_matches_nothing", "matches no cell"},
      {"run --duration 1s", "duration"},
      {"run --duration 0", "duration"},
      {"run --repetitions 0", "repetitions"},
      {"run --cell-timeout 0", "cell-timeout"},
      {"run --cell-timeout 1e9", "cell-timeout"},
      {"run --cell-timeout 5min", "cell-timeout"},
      {"run --rate 0", "rate"},
      {"run --rate -5", "rate"},
      {"run --rate 1e9", "rate"},
      {"run --rate 10/s", "rate"},
      {"run --rate-fraction 0", "rate-fraction"},
      {"run --rate-fraction 100", "rate-fraction"},
      {"run --arrival uniform", "arrival"},
      {"run --workload sleep --filter rate_fraction", "which the selection leaves out"},
      {"run --param work_us=abc", "not a number"},
      {"run --param work_us=-1", "work_us"},
      {"run --param nosuch=1", "nosuch"},
      {"run --bogus", "bogus"},
      {"run --benchmark_bogus=1", "benchmark_bogus"},
      {"frobnicate", "frobnicate"},
  };
  for (const auto& [args, message] : cases) {
    const outcome o = conpar(args + " --out " + temp_json("bad").string());
    EXPECT_EQ(o.code, 2) << args << "\n" << o.output;
    EXPECT_NE(o.output.find(message), std::string::npos) << args << "\n" << o.output;
    EXPECT_FALSE(fs::exists(temp_json("bad"))) << args << ": bad input must not write results";
  }
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

TEST(Cli, GoodRunWritesValidatedResultsWithContext) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("good");
  const outcome o = conpar(std::string(k_tiny) + " --out " + out.string());
  ASSERT_EQ(o.code, 0) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  for (const char* key : {"git_commit", "compiler", "cxx_flags", "libraries", "kernel", "cpu_model", "cores",
                          "iterations_per_us", "schema_version", "load_avg_before", "load_avg_after"})
    EXPECT_TRUE(doc["context"].contains(key)) << key;
  int rows = 0;
  for (const auto& b : doc["benchmarks"]) {
    if (b["run_type"] != "iteration") continue;
    ++rows;
    EXPECT_EQ(b["name"].get<std::string>().find("manual_time"), std::string::npos);
    EXPECT_EQ(b["validated"], 1);
    for (const char* counter : {"workers", "concurrency", "items_per_second", "latency_p50_us", "latency_max_us",
                                "busy_cores", "in_flight", "cpu_user_s", "cpu_sys_s", "ctx_voluntary",
                                "ctx_involuntary", "rss_peak_mb", "work_us", "wait_us"})
      EXPECT_TRUE(b.contains(counter)) << counter;
    EXPECT_TRUE(b.contains("histogram"));
    EXPECT_EQ(b["histogram"]["count"].get<double>(), b["items_per_second"].get<double>() * b["real_time"].get<double>() / 1e3);
  }
  EXPECT_EQ(rows, 2);  // cpu/seq and cpu/coro at workers 1
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

TEST(Cli, CorruptedChecksumIsAnErrorRowAndExitThree) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("corrupt");
  const outcome o = conpar(std::string(k_tiny) + " --test-corrupt-checksum --out " + out.string());
  EXPECT_EQ(o.code, 3) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));  // results are still written, errors included
  int errors = 0;
  for (const auto& b : doc["benchmarks"])
    if (b.value("error_occurred", false)) {
      ++errors;
      EXPECT_NE(b["error_message"].get<std::string>().find("validation failed"), std::string::npos);
      EXPECT_FALSE(b.contains("items_per_second")) << "an error row carries no number";
    }
  EXPECT_EQ(errors, 2);
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

// Where the descriptor limit cannot be raised far enough, a tcp cell that needs more connections is an error
// row naming the limit and how to raise it; the cells that fit still run, and the tcp server is stopped.
TEST(Cli, TooFewDescriptorsForTheConnectionsIsAnErrorRowNamingTheLimit) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("nofile");
  const outcome o = conpar("run --suite smoke --workload tcp --runner coro --concurrency 10,1000 --out " + out.string(),
                           "ulimit -n 256 && ");
  EXPECT_EQ(o.code, 3) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  EXPECT_EQ(doc["context"]["open_files_limit"], nlohmann::json({256, 256}));
  ASSERT_EQ(doc["benchmarks"].size(), 2u);
  for (const auto& b : doc["benchmarks"]) {
    const std::string name = b["name"];
    if (name.find("concurrency:1000/") != std::string::npos) {
      EXPECT_TRUE(b.value("error_occurred", false)) << name;
      const std::string why = b.value("error_message", "");
      EXPECT_NE(why.find("1000 requests in flight need 1000 more open descriptors"), std::string::npos) << why;
      EXPECT_NE(why.find("RLIMIT_NOFILE; hard limit 256"), std::string::npos) << why;
    } else {
      EXPECT_EQ(b["validated"], 1) << name;
    }
  }
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the tcp server does not outlive the run";
}

TEST(Cli, AThrowingWorkloadIsAnErrorRowUnderEveryRunnerAndTheRunGoesOn) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("fault");
  const outcome o = conpar("run --suite smoke --workload fault,cpu --param work_us=5 --param fail_at=50 --workers 2 --out " +
                           out.string());
  EXPECT_EQ(o.code, 3) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  int faults = 0, validated = 0;
  for (const auto& b : doc["benchmarks"]) {
    const std::string name = b["name"];
    if (name.rfind("fault/", 0) == 0) {
      EXPECT_TRUE(b.value("error_occurred", false)) << name;
      EXPECT_NE(b.value("error_message", "").find("planted fault"), std::string::npos) << name;
      ++faults;
    } else {
      validated += b.value("validated", 0);
    }
  }
  EXPECT_EQ(faults, 4) << "seq, coro, threads, procs";
  EXPECT_EQ(validated, 4) << "the cpu cells after the faults still ran";
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

TEST(Cli, UnwritableResultsPathIsExitOneAndKeepsTheOldFile) {
  const conpar::test_support::leak_check leaks;
  const fs::path blocker = temp_json("blocker");
  { std::ofstream(blocker) << "keep"; }
  const outcome o = conpar(std::string(k_tiny) + " --out " + (blocker / "results.json").string());
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_NE(o.output.find("cannot write results"), std::string::npos) << o.output;
  std::ifstream in(blocker);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "keep");
  fs::remove(blocker);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

TEST(Cli, ReportRendersAResultsFileAndRejectsBadInput) {
  const conpar::test_support::leak_check leaks;
  const fs::path results = temp_json("for_report");
  ASSERT_EQ(conpar(std::string(k_tiny) + " --out " + results.string()).code, 0);
  const fs::path html = temp_json("report").replace_extension(".html");
  const fs::path md = temp_json("report").replace_extension(".md");
  const outcome o = conpar("report " + results.string() + " --out-html " + html.string() + " --out-md " + md.string());
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(fs::file_size(html) > 1000);
  EXPECT_TRUE(fs::file_size(md) > 100);
  const outcome bad = conpar("report " + html.string() + " --out-html " + html.string() + " --out-md " + md.string());
  EXPECT_EQ(bad.code, 2) << bad.output;
  for (const auto& p : {results, html, md}) fs::remove(p);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

TEST(Cli, ListPrintsCellNamesInTheDocumentedForm) {
  const conpar::test_support::leak_check leaks;
  const outcome o = conpar("run --list --workload sleep --runner coro");
  ASSERT_EQ(o.code, 0);
  EXPECT_NE(o.output.find("sleep/coro/workers:1/concurrency:10000/wait_us:10000"), std::string::npos) << o.output;
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

// Issue 16 #9: the check counted only the cell's own connections against the limit, so under a limit of 256 a
// threads cell's 192 connections, still open, plus a procs cell's 192 passed it, and the procs cell hung until
// the watchdog. The check counts what is open now (/proc/self/fd): the procs cell runs, or is refused at once.
TEST(Cli, TheDescriptorCheckCountsConnectionsEarlierCellsLeftOpen) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("nofile_open");
  const auto start = std::chrono::steady_clock::now();
  const outcome o = conpar("run --suite smoke --workload tcp --runner threads,procs --concurrency 192 --cell-timeout 20 "
                           "--out " + out.string(),
                           "ulimit -n 256 && ");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20)) << "no cell waits for the watchdog";
  ASSERT_TRUE(o.code == 0 || o.code == 3) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  ASSERT_EQ(doc["benchmarks"].size(), 2u);
  for (const auto& b : doc["benchmarks"]) {
    const std::string name = b["name"];
    const std::string why = b.value("error_message", "");
    const bool refused = why.find("are open in this process now (/proc/self/fd), but it may open 256") != std::string::npos;
    EXPECT_TRUE(b.value("validated", 0) == 1 || refused) << name << ": " << why;
  }
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the tcp server and the workers do not outlive the run";
}

}  // namespace
