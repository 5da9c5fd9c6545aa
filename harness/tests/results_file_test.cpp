#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "harness/aggregates.hpp"
#include "harness/reference.hpp"
#include "harness/results_file.hpp"
#include "workloads/kernel.hpp"

using namespace conpar;
namespace fs = std::filesystem;

TEST(ResultsFile, BenchmarkNanAndInfinityBecomeNull) {
  const auto doc = harness::parse_benchmark_json(R"({"a": NaN, "b": -Infinity, "c": 1.5, "s": "NaN"})");
  EXPECT_TRUE(doc["a"].is_null());
  EXPECT_TRUE(doc["b"].is_null());
  EXPECT_EQ(doc["c"], 1.5);
  EXPECT_EQ(doc["s"], "NaN") << "strings are left alone";
}

TEST(ResultsFile, FinishStripsManualTimeAttachesHistogramsAndMarksNoise) {
  const auto rep = [](int i, double rate) {
    return nlohmann::json{{"name", "x/manual_time"}, {"run_name", "x/manual_time"}, {"run_type", "iteration"},
                          {"repetition_index", i}, {"items_per_second", rate}};
  };
  nlohmann::json doc = {{"context", nlohmann::json::object()},
                        {"benchmarks",
                         {rep(0, 100), rep(1, 200),
                          // Google Benchmark's own aggregates are dropped: conpar computes them over the rounds.
                          {{"name", "x/manual_time_cv"}, {"run_name", "x/manual_time"}, {"run_type", "aggregate"},
                           {"aggregate_name", "cv"}, {"items_per_second", 0.01}}}}};
  harness::finish_results(doc, {{"x", {nlohmann::json{{"count", 3}}, nlohmann::json{{"count", 4}}}}});
  const auto& b = doc["benchmarks"];
  ASSERT_EQ(b.size(), 8u) << "2 repetitions and 6 aggregates: " << b.dump();
  EXPECT_EQ(b[0]["name"], "x");
  EXPECT_EQ(b[5]["name"], "x_cv");
  EXPECT_EQ(b[0]["histogram"]["count"], 3);
  EXPECT_EQ(b[1]["histogram"]["count"], 4);
  EXPECT_EQ(b[0]["noisy"], 1) << "cv of 100 and 200 is 0.47, not the 0.01 given";
  EXPECT_EQ(doc["context"]["noise_cv_limit"], harness::k_noise_cv_limit);
  EXPECT_EQ(doc["context"]["ci_level"], harness::k_ci_level);
}

// Issue 14 #1: Google Benchmark's tools read real_time and cpu_time as the time of one iteration, so a row's
// iteration is a request: real_time = window / requests measured, cpu_time = CPU per request, in ns, and the
// aggregates are those of the per-request times, not of the windows.
TEST(ResultsFile, RowsCarryTimePerRequestAndTheAggregatesFollow) {
  const auto rep = [](int i, double window_s, double measured, double cpu_us) {
    return nlohmann::json{{"name", "x/manual_time"}, {"run_name", "x/manual_time"}, {"run_type", "iteration"},
                          {"repetition_index", i}, {"iterations", 1}, {"real_time", window_s * 1e3},
                          {"cpu_time", 2.0}, {"time_unit", "ms"}, {"window_s", window_s},
                          {"measured_requests", measured}, {"cpu_us_per_request", cpu_us}};
  };
  nlohmann::json failed = rep(3, 0.3, 10, 1);
  failed["error_occurred"] = true;
  nlohmann::json doc = {{"context", nlohmann::json::object()},
                        {"benchmarks",
                         {rep(0, 0.3, 3000, 50), rep(1, 0.3, 1500, 70), rep(2, 0.3, 1000, 90), failed}}};
  harness::finish_results(doc, {});
  const auto& b = doc["benchmarks"];
  EXPECT_EQ(b[0]["iterations"], 3000);
  EXPECT_DOUBLE_EQ(b[0]["real_time"].get<double>(), 100e3) << "0.3 s over 3,000 requests: 100 us = 100,000 ns";
  EXPECT_DOUBLE_EQ(b[1]["real_time"].get<double>(), 200e3);
  EXPECT_DOUBLE_EQ(b[0]["cpu_time"].get<double>(), 50e3);
  EXPECT_EQ(b[0]["time_unit"], "ns");
  EXPECT_EQ(b[3]["iterations"], 1) << "a failed repetition measured nothing and is left out of the aggregates";
  EXPECT_DOUBLE_EQ(b[4]["real_time"].get<double>(), 200e3) << "mean of 100, 200 and 300 us";
  EXPECT_DOUBLE_EQ(b[5]["real_time"].get<double>(), 200e3);
  EXPECT_DOUBLE_EQ(b[5]["cpu_time"].get<double>(), 70e3);
  EXPECT_DOUBLE_EQ(b[6]["real_time"].get<double>(), 100e3) << "sample standard deviation";
  EXPECT_DOUBLE_EQ(b[7]["real_time"].get<double>(), 0.5) << "cv = stddev / mean, a fraction as Google Benchmark writes it";
  EXPECT_EQ(b[7]["time_unit"], "ns");
  EXPECT_EQ(b[4]["name"], "x_mean");
  EXPECT_EQ(b[4]["iterations"], 3) << "Google Benchmark's aggregates count the repetitions behind them";
  EXPECT_DOUBLE_EQ(b[8]["real_time"].get<double>(), 100e3) << "3 samples: the interval is their range";
  EXPECT_DOUBLE_EQ(b[9]["real_time"].get<double>(), 300e3);
  EXPECT_DOUBLE_EQ(b[9]["ci_coverage"].get<double>(), 0.75);
}

TEST(ResultsFile, AtomicWriteReplacesWholeAndFailsCleanly) {
  const fs::path dir = fs::temp_directory_path() / ("conpar_rf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "sub" / "r.json";
  harness::write_atomically(file, "first");
  harness::write_atomically(file, "second");
  std::ifstream in(file);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "second");
  EXPECT_THROW(harness::write_atomically(file / "under_a_file.json", "x"), std::runtime_error);
  const fs::path fifo = dir / "sub" / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(harness::write_atomically(fifo, "x"), std::runtime_error) << "a special file is never replaced";
  EXPECT_TRUE(fs::is_fifo(fifo));
  fs::remove(fifo);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "sub")) ++entries;
  EXPECT_EQ(entries, 1u) << "no temporary file is left behind";
  fs::remove_all(dir);
}

// Issue 16 #11: the target is checked before the run (a directory, a device, a symlink, an unwritable folder),
// and no error names the temporary file instead of the target.
TEST(ResultsFile, TargetIsCheckedBeforeTheRunAndOnlyARegularFileIsReplaced) {
  const fs::path dir = fs::temp_directory_path() / ("conpar_target_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path regular = dir / "old.json";
  { std::ofstream(regular) << "keep"; }
  const fs::path link = dir / "link.json";
  fs::create_symlink(regular, link);
  const auto refused = [](const fs::path& target) {
    try {
      harness::check_results_target(target);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  for (const fs::path& bad : {dir, fs::path("/dev/full"), fs::path("/dev/null"), link, regular / "under.json",
                              fs::path("/proc/conpar_results.json"), fs::path("")}) {
    const std::string why = refused(bad);
    EXPECT_EQ(why.rfind("cannot write results to " + bad.string() + ": ", 0), 0u) << bad << ": " << why;
    EXPECT_EQ(why.find(".tmp."), std::string::npos) << why;
  }
  EXPECT_EQ(refused(regular), "accepted");
  EXPECT_EQ(refused(dir / "new" / "r.json"), "accepted") << "a missing folder is made";
  try {
    harness::write_atomically(link, "x");
    ADD_FAILURE() << "wrote through a symbolic link";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cannot write results to " + link.string() + ": it is a symbolic link", 0), 0u)
        << e.what();
  }
  EXPECT_TRUE(fs::is_symlink(link));
  std::ifstream in(regular);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "keep") << "a symbolic link's target is never replaced";
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 3u) << "old.json, link.json, new/: no temporary file is left behind";
  fs::remove_all(dir);
}

TEST(Reference, FoldOfAnyPrefixEqualsTheDirectSum) {
  const auto spec = workloads::make_spec(*workloads::find_workload("cpu"), {{"work_us", 1}}, {10.0});
  harness::reference_checksums ref;
  std::uint64_t direct = 0;
  for (std::uint64_t n = 0; n <= 200; ++n) {
    EXPECT_EQ(ref.fold(spec, n), direct) << n;
    direct += workloads::expected_checksum(spec.make(n));
  }
  EXPECT_NE(ref.fold(spec, 130), ref.fold(spec, 129));
}
