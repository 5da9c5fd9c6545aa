#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  nlohmann::json doc = {{"context", nlohmann::json::object()},
                        {"benchmarks",
                         {{{"name", "x/manual_time"}, {"run_name", "x/manual_time"}, {"run_type", "iteration"},
                           {"repetition_index", 0}},
                          {{"name", "x/manual_time_cv"}, {"run_name", "x/manual_time"}, {"run_type", "aggregate"},
                           {"aggregate_name", "cv"}, {"items_per_second", 0.2}}}}};
  harness::finish_results(doc, {{"x", {nlohmann::json{{"count", 3}}}}});
  EXPECT_EQ(doc["benchmarks"][0]["name"], "x");
  EXPECT_EQ(doc["benchmarks"][1]["name"], "x_cv");
  EXPECT_EQ(doc["benchmarks"][0]["histogram"]["count"], 3);
  EXPECT_EQ(doc["benchmarks"][0]["noisy"], 1);
  EXPECT_EQ(doc["context"]["noise_cv_limit"], harness::k_noise_cv_limit);
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
