#include "harness/results_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <stdexcept>

namespace conpar::harness {
namespace {

constexpr std::string_view k_manual_suffix = "/manual_time";

// Aggregate rows carry a suffix after it ("/manual_time_median"), so it is removed wherever it stands.
std::string strip_suffix(std::string name) {
  if (const auto at = name.find(k_manual_suffix); at != std::string::npos) name.erase(at, k_manual_suffix.size());
  return name;
}

}  // namespace

nlohmann::json parse_benchmark_json(std::string text) {
  static const std::regex k_non_json(R"(:\s*-?(NaN|Infinity)\b)");
  return nlohmann::json::parse(std::regex_replace(text, k_non_json, ": null"));
}

void finish_results(nlohmann::json& doc, const std::map<std::string, std::vector<nlohmann::json>>& histograms) {
  std::map<std::string, bool> noisy;
  for (auto& b : doc["benchmarks"]) {
    b["name"] = strip_suffix(b.value("name", ""));
    b["run_name"] = strip_suffix(b.value("run_name", ""));
    const std::string run = b["run_name"];
    if (b.value("run_type", "") == "aggregate" && b.value("aggregate_name", "") == "cv") {
      const auto it = b.find("items_per_second");
      noisy[run] = it != b.end() && it->is_number() && it->get<double>() > k_noise_cv_limit;
    }
    if (b.value("run_type", "") == "iteration" && !b.value("error_occurred", false)) {
      const auto h = histograms.find(run);
      const auto rep = b.value("repetition_index", std::int64_t{0});
      if (h != histograms.end() && rep >= 0 && static_cast<std::size_t>(rep) < h->second.size())
        b["histogram"] = h->second[static_cast<std::size_t>(rep)];
    }
  }
  for (auto& b : doc["benchmarks"]) {
    const auto it = noisy.find(b["run_name"].get<std::string>());
    if (it != noisy.end()) b["noisy"] = it->second ? 1 : 0;
  }
  doc["context"]["noise_cv_limit"] = k_noise_cv_limit;
}

void write_atomically(const std::filesystem::path& path, const std::string& content) {
  const auto fail = [&](const std::string& what, const std::filesystem::path& tmp) {
    const int err = errno;
    if (!tmp.empty()) ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write results to " + path.string() + ": " + what + ": " + std::strerror(err));
  };
  std::error_code ec;
  // rename() would replace a device or FIFO (say /dev/null, as root) with a regular file: refuse.
  if (const auto st = std::filesystem::status(path, ec); !ec && std::filesystem::exists(st) &&
                                                        !std::filesystem::is_regular_file(st)) {
    errno = EINVAL;
    fail("it exists and is not a regular file", {});
  }
  ec.clear();
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    errno = ec.value();
    fail("cannot create " + path.parent_path().string(), {});
  }
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open " + tmp.string(), {});
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("write", tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) {  // EINVAL: special files such as /dev/null cannot sync
    ::close(fd);
    fail("fsync", tmp);
  }
  if (::close(fd) != 0) fail("close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", tmp);
}

}  // namespace conpar::harness
