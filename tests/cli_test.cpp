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
      {"run --param work_us=abc", "not a finite number"},
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
                          "iterations_per_us", "schema_version", "load_avg_before", "load_avg_after",
                          "other_busy_cores", "steal_fraction"})
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
    // Google Benchmark's fields per request (issue 14): iterations are the requests measured, the ones the
    // histogram counts, and real_time (ns) is the inverse of the throughput.
    EXPECT_EQ(b["histogram"]["count"], b["iterations"]);
    EXPECT_EQ(b["time_unit"], "ns");
    EXPECT_NEAR(b["items_per_second"].get<double>() * b["real_time"].get<double>() / 1e9, 1.0, 1e-9);
  }
  EXPECT_EQ(rows, 2);  // cpu/seq and cpu/coro at workers 1
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

// Each tcp row says how busy the server's one loop was (issue 13), so a reader can tell a server-bound cell;
// rows that use no server carry none of it.
TEST(Cli, TcpRowsCarryTheServersCpuAndOthersDoNot) {
  const conpar::test_support::leak_check leaks;
  const fs::path out = temp_json("server");
  const outcome o = conpar("run --suite smoke --workload tcp,cpu --runner coro --concurrency 10 --out " + out.string());
  ASSERT_EQ(o.code, 0) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  int tcp_rows = 0;
  for (const auto& b : doc["benchmarks"]) {
    if (b["run_type"] != "iteration") continue;
    const bool tcp = b["name"].get<std::string>().rfind("tcp/", 0) == 0;
    EXPECT_EQ(b.contains("server_busy_cores"), tcp) << b["name"];
    if (!tcp) continue;
    ++tcp_rows;
    EXPECT_GT(b["server_cpu_s"].get<double>(), 0) << b["name"];
    EXPECT_GT(b["server_busy_cores"].get<double>(), 0) << b["name"];
    EXPECT_LE(b["server_busy_cores"].get<double>(), 1.05) << "one epoll thread: " << b["name"];
    EXPECT_EQ(b["server_bound"].get<double>(), b["server_busy_cores"].get<double>() >= 0.9 ? 1 : 0);
  }
  EXPECT_GT(tcp_rows, 0);
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the tcp server does not outlive the run";
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

TEST(Cli, UnwritableResultsPathIsExitTwoBeforeAnyWorkAndKeepsTheOldFile) {
  const conpar::test_support::leak_check leaks;
  const fs::path blocker = temp_json("blocker");
  { std::ofstream(blocker) << "keep"; }
  const outcome o = conpar(std::string(k_tiny) + " --out " + (blocker / "results.json").string());
  EXPECT_EQ(o.code, 2) << o.output;
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

// Issue 14 #1: every Google Benchmark flag does what a Google Benchmark user expects, through conpar's own
// option, or is exit 2 naming conpar's option; before, --benchmark_min_time=0.5 reported 701 req/s for a
// 10,000 req/s cell and --benchmark_list_tests aborted.
TEST(Cli, GoogleBenchmarkFlagsWorkOrAreRefusedNamingConparsOption) {
  const conpar::test_support::leak_check leaks;
  const outcome listed = conpar("run --benchmark_list_tests --benchmark_filter=sleep/coro/.*concurrency:10000/");
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_EQ(listed.output, "sleep/coro/workers:1/concurrency:10000/wait_us:10000\n");
  EXPECT_EQ(conpar("run --benchmark_list_tests=false --list --workload sleep --runner coro").code, 0);

  const fs::path out = temp_json("gb_flags");
  const outcome o = conpar(std::string(k_tiny) + " --benchmark_repetitions=2 --benchmark_out=" +
                           out.string() + " --benchmark_out_format=json --benchmark_context=pr=42 --benchmark_format=console");
  ASSERT_EQ(o.code, 0) << o.output;
  const auto doc = nlohmann::json::parse(std::ifstream(out));
  EXPECT_EQ(doc["context"]["repetitions"], 2);
  EXPECT_EQ(doc["context"]["pr"], "42") << "--benchmark_context adds to the context";
  int reps = 0;
  for (const auto& b : doc["benchmarks"]) reps += b["run_type"] == "iteration" ? 1 : 0;
  EXPECT_EQ(reps, 4) << "two cells (seq, coro), two repetitions each";
  fs::remove(out);

  const std::pair<std::string, std::string> refused[] = {
      {"--benchmark_min_time=0.5", "--duration"},
      {"--benchmark_min_warmup_time=1", "--warmup"},
      {"--benchmark_format=csv", "--out"},
      {"--benchmark_out_format=csv", "--out"},
      {"--benchmark_repetitions=0", "--benchmark_repetitions=0"},
      {"--benchmark_repetitions=2 --repetitions 3", "disagree"},
      {"--benchmark_filter=-coro", "--filter"},
      {"--benchmark_filter=coro --filter seq", "give one"},
      {"--benchmark_enable_random_interleaving=true", "conpar ab"},
      {"--benchmark_report_aggregates_only=true", "every repetition"},
      {"--benchmark_list_tests=maybe", "not true or false"},
      {"--benchmark_nonsense=1", "unknown Google Benchmark flag '--benchmark_nonsense=1'"},
  };
  for (const auto& [flags, message] : refused) {
    const outcome r = conpar(std::string(k_tiny) + " " + flags);
    EXPECT_EQ(r.code, 2) << flags << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << flags << ": " << r.output;
  }
  const outcome v = conpar("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.output.rfind("conpar ", 0), 0u) << v.output;
  EXPECT_EQ(leaks.leftovers(), "") << "no process or /dev/shm entry outlives the run";
}

// Issue 16 #4: NaN passed every CLI::Range (each comparison with it is false), std::stod read "nan" and "inf",
// and a value past a double's range overflowed. Each is exit 2 naming the option and the value.
TEST(Cli, NonFiniteOrHugeFloatsAreExitTwoNamingTheOptionAndValue) {
  const char* cases[][2] = {
      {"--duration", "nan"},      {"--warmup", "nan"},        {"--rate", "nan"},         {"--rate-fraction", "nan"},
      {"--cell-timeout", "nan"},  {"--duration", "inf"},     {"--warmup", "-inf"},
      {"--cell-timeout", "1e400"}, {"--rate", "1000,nan"},     {"--duration", "NAN"},     {"--rate", "infinity"},
      {"--duration", "0x1p-3"},
  };
  for (const auto& [option, value] : cases) {
    const outcome o = conpar("run --list " + std::string(option) + " " + value);
    EXPECT_EQ(o.code, 2) << option << " " << value << "\n" << o.output;
    EXPECT_NE(o.output.find(std::string(option) + ": '" + (std::string(value).find(',') == std::string::npos
                                                                ? value : "nan") + "'"),
              std::string::npos)
        << o.output;
  }
  for (const char* value : {"nan", "inf", "-inf", "1e999"}) {
    const outcome o = conpar("run --list --param work_us=" + std::string(value));
    EXPECT_EQ(o.code, 2) << value << "\n" << o.output;
    EXPECT_NE(o.output.find("--param work_us=" + std::string(value) + ": '" + value + "' is not a finite number"),
              std::string::npos)
        << o.output;
  }
}

// Issue 16 #13: the README says an empty filter is bad input; it ran every cell.
TEST(Cli, AnEmptyFilterIsExitTwo) {
  const outcome o = conpar("run --list --filter ''");
  EXPECT_EQ(o.code, 2) << o.output.substr(0, 300);
  EXPECT_NE(o.output.find("invalid --filter regex '': it is empty"), std::string::npos) << o.output.substr(0, 300);
}

// Issue 16 #12: a 100,000-character filter overflowed std::regex's recursive compiler (a segfault), and
// (.*)*(.*)*z backtracked for minutes. The first is refused by its length, the second answered at once.
TEST(Cli, AnOverlongFilterIsRefusedAndAPathologicalOneAnsweredQuickly) {
  const outcome longest = conpar("run --list --filter " + std::string(100000, 'a'));
  EXPECT_EQ(longest.code, 2) << longest.output.substr(0, 300);
  EXPECT_NE(longest.output.find("100000 characters, more than the limit of 512"), std::string::npos)
      << longest.output.substr(0, 300);
  std::string nested;
  while (nested.size() + 5 <= 512) nested += "(.*)*";
  const std::pair<std::string, int> cases[] = {{"(.*)*(.*)*z", 2}, {nested, 0}};  // matches nothing; every cell
  for (const auto& [filter, code] : cases) {
    const auto start = std::chrono::steady_clock::now();
    const outcome o = conpar("run --list --filter '" + filter + "'");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << filter;
    EXPECT_EQ(o.code, code) << filter << "\n" << o.output.substr(0, 300);
  }
}

// Issue 16 #14: --workers above the pools' cap (1,000) was dropped silently from the pool runners (seq and coro
// still ran), or left "the selection matches no cell" without naming the cap.
TEST(Cli, WorkersAboveTheCapAreExitTwoNamingTheCap) {
  for (const char* args : {"run --list --workers 2000", "run --list --runner threads --workers 1001",
                           "run --list --workers 4,4096"}) {
    const outcome o = conpar(args);
    EXPECT_EQ(o.code, 2) << args << "\n" << o.output.substr(0, 300);
    EXPECT_NE(o.output.find("workers must be 1 to 1000 (the cap on a pool's threads or processes"), std::string::npos)
        << args << "\n" << o.output.substr(0, 300);
  }
  EXPECT_EQ(conpar("run --list --runner threads --workers 1000 --workload cpu").code, 0);
}

// Issue 16 #10: --rate 0.001 implied a window of 150,000 s (150 arrivals) without a word.
TEST(Cli, AnOpenLoopWindowPastTheBoundIsExitTwoNamingTheRate) {
  const outcome o = conpar("run --list --workload sleep --runner coro --rate 1000,0.001");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("--rate 0.001: an open-loop window holds 150 arrivals, 150000 s at this rate, over the "
                          "limit of 3600 s"),
            std::string::npos)
      << o.output;
  EXPECT_EQ(conpar("run --list --workload sleep --runner coro --rate 0.05").code, 0) << "3000 s: inside the bound";
}

// Issue 16 #11: a bad --out was found only after the whole run, throwing every measurement away. Now each is
// exit 2 naming the target before anything runs, and a device, a directory or a symlink is left as it was.
TEST(Cli, ABadOutIsExitTwoBeforeAnyWorkAndNothingIsReplaced) {
  const conpar::test_support::leak_check leaks;
  const fs::path dir = temp_json("outdir");
  fs::create_directories(dir);
  const fs::path kept = dir / "kept.json";
  { std::ofstream(kept) << "keep"; }
  fs::create_symlink("/dev/null", dir / "to_null.json");
  fs::create_symlink(kept, dir / "to_kept.json");
  fs::create_directories(dir / "locked");
  fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  std::vector<fs::path> targets = {dir, "/dev/full", "/dev/null", dir / "to_null.json", dir / "to_kept.json",
                                   kept / "under_a_file.json", "/proc/conpar_results.json"};
  if (::geteuid() != 0) targets.push_back(dir / "locked" / "r.json");  // root writes there anyway
  for (const fs::path& target : targets) {
    const outcome o = conpar(std::string(k_tiny) + " --out " + target.string());
    EXPECT_EQ(o.code, 2) << target << "\n" << o.output;
    EXPECT_NE(o.output.find("cannot write results to " + target.string() + ": "), std::string::npos) << o.output;
    EXPECT_EQ(o.output.find("[1/"), std::string::npos) << target << ": no cell may run first\n" << o.output;
  }
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_TRUE(fs::is_symlink(dir / "to_null.json"));
  EXPECT_TRUE(fs::is_symlink(dir / "to_kept.json"));
  std::ifstream in(kept);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "keep");
  fs::permissions(dir / "locked", fs::perms::owner_all);
  fs::remove_all(dir);
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
    const bool refused = why.find(", but it may open 256 (RLIMIT_NOFILE") != std::string::npos;
    EXPECT_TRUE(b.value("validated", 0) == 1 || refused) << name << ": " << why;
  }
  fs::remove(out);
  EXPECT_EQ(leaks.leftovers(), "") << "the tcp server and the workers do not outlive the run";
}

}  // namespace
