#include "harness/results_file.hpp"

#include "harness/aggregates.hpp"
#include "harness/json_number.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <regex>
#include <stdexcept>
#include <utility>

namespace conpar::harness {
namespace {

// Why `path` cannot be the results file, or "": it may be absent or a regular file, nothing else. lstat, not
// stat: a symbolic link is refused as what it is, whatever it points to.
std::string target_problem(const std::filesystem::path& path) {
  if (!path.has_filename()) return "it names a folder, not a file";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? "" : std::strerror(errno);
  if (S_ISREG(st.st_mode)) return "";
  if (S_ISDIR(st.st_mode)) return "it is a directory";
  if (S_ISLNK(st.st_mode)) return "it is a symbolic link (give the path it points to)";
  return "it exists and is not a regular file (a device, FIFO or socket is never replaced)";
}

// The folder the temporary file and `path` live in, made if missing; "" when it was, else why not.
std::string make_folder(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  return ec ? "cannot create " + path.parent_path().string() + ": " + ec.message() : "";
}

std::filesystem::path temp_beside(const std::filesystem::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}

// Opens the temporary file beside `path`, exclusively: a leftover of the same name is never written through.
int open_temp(const std::filesystem::path& tmp) {
  ::unlink(tmp.c_str());  // a previous run of this pid's, killed before it renamed
  return ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

// Google Benchmark's tools (compare.py, github-action-benchmark, Bencher's adapter) read real_time and
// cpu_time as the time per iteration. A cell's iteration is a request: iterations is the number measured in
// the window, real_time the window over them (the inverse of throughput, not the latency), cpu_time the
// CPU per request, all in ns (add_aggregates then aggregates these, not the windows).
void per_request_times(nlohmann::json& benchmarks) {
  for (auto& b : benchmarks) {
    b["time_unit"] = "ns";
    if (b.value("run_type", "") != "iteration" || b.value("error_occurred", false)) continue;
    const double measured = json_number(b, "measured_requests").value_or(-1);
    const double window = json_number(b, "window_s").value_or(-1);
    const double cpu_us = json_number(b, "cpu_us_per_request").value_or(-1);
    if (measured <= 0 || window <= 0 || cpu_us < 0) continue;
    b["iterations"] = static_cast<std::int64_t>(measured);
    b["real_time"] = window * 1e9 / measured;
    b["cpu_time"] = cpu_us * 1e3;
  }
}

}  // namespace

std::string without_manual_time(std::string name) {
  constexpr std::string_view suffix = "/manual_time";
  if (const auto at = name.find(suffix); at != std::string::npos) name.erase(at, suffix.size());
  return name;
}

nlohmann::json parse_benchmark_json(std::string text) {
  static const std::regex k_non_json(R"(:\s*-?(NaN|Infinity)\b)");
  return nlohmann::json::parse(std::regex_replace(text, k_non_json, ": null"));
}

void finish_results(nlohmann::json& doc, const std::map<std::string, std::vector<nlohmann::json>>& histograms) {
  // Only the repetitions are kept: the aggregates are computed here, over the rounds (aggregates.hpp).
  nlohmann::json rows = nlohmann::json::array();
  for (auto& b : doc["benchmarks"]) {
    if (b.value("run_type", "") == "aggregate") continue;
    b["name"] = without_manual_time(b.value("name", ""));
    b["run_name"] = without_manual_time(b.value("run_name", ""));
    if (!b.value("error_occurred", false)) {
      const auto h = histograms.find(b["run_name"].get<std::string>());
      const auto rep = b.value("repetition_index", std::int64_t{0});
      if (h != histograms.end() && rep >= 0 && static_cast<std::size_t>(rep) < h->second.size())
        b["histogram"] = h->second[static_cast<std::size_t>(rep)];
    }
    rows.push_back(std::move(b));
  }
  per_request_times(rows);
  add_aggregates(rows);
  std::map<std::string, bool> noisy;
  for (const auto& b : rows)
    if (b.value("run_type", "") == "aggregate" && b.value("aggregate_name", "") == "cv")
      noisy[b["run_name"].get<std::string>()] = json_number(b, "items_per_second").value_or(0) > k_noise_cv_limit;
  for (auto& b : rows) {
    const auto it = noisy.find(b["run_name"].get<std::string>());
    if (it != noisy.end()) b["noisy"] = it->second ? 1 : 0;
  }
  doc["benchmarks"] = std::move(rows);
  doc["context"]["noise_cv_limit"] = k_noise_cv_limit;
  doc["context"]["ci_level"] = k_ci_level;
}

void check_results_target(const std::filesystem::path& path) {
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("cannot write results to " + path.string() + ": " + why);
  };
  if (path.empty()) refuse("the path is empty");
  if (auto why = target_problem(path); !why.empty()) refuse(why);
  if (auto why = make_folder(path); !why.empty()) refuse(why);
  // The only sure test that the folder takes a new file (permissions, a read-only file system, root's
  // rights) is to make one.
  const auto tmp = temp_beside(path);
  const int fd = open_temp(tmp);
  if (fd < 0) refuse(std::string("cannot create a file beside it: ") + std::strerror(errno));
  ::close(fd);
  ::unlink(tmp.c_str());
}

void write_atomically(const std::filesystem::path& path, const std::string& content) {
  const auto tmp = temp_beside(path);
  int fd = -1;
  const auto fail = [&](const std::string& what) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write results to " + path.string() + ": " + what);
  };
  const auto fail_errno = [&](const char* step) { fail(std::string(step) + ": " + std::strerror(errno)); };
  if (auto why = target_problem(path); !why.empty()) fail(why);
  if (auto why = make_folder(path); !why.empty()) fail(why);
  fd = open_temp(tmp);
  if (fd < 0) fail_errno("cannot create a file beside it");
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail_errno("fsync");
  const int closing = std::exchange(fd, -1);
  if (::close(closing) != 0) fail_errno("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("rename");
}

}  // namespace conpar::harness
