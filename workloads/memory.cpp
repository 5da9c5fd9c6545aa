#include "workloads/memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <system_error>

#include "workloads/kernel.hpp"

namespace conpar::workloads {
namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

std::size_t bytes_of(stream_shape shape) noexcept { return shape.slices() * shape.slice_words() * sizeof(std::uint64_t); }

}  // namespace

memory_array::memory_array(stream_shape shape) : m_shape(shape), m_sums(shape.slices()) {
  const std::size_t bytes = bytes_of(shape);
  m_fd = ::memfd_create("conpar-memory", MFD_CLOEXEC);  // CLOEXEC: exec drops it; fork keeps it
  if (m_fd < 0) fail("memory workload: memfd_create");
  if (::ftruncate(m_fd, static_cast<off_t>(bytes)) != 0) {
    ::close(m_fd);
    fail("memory workload: ftruncate of the array");
  }
  void* view = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
  if (view == MAP_FAILED) {
    ::close(m_fd);
    fail("memory workload: mmap to fill the array");
  }
  auto* words = static_cast<std::uint64_t*>(view);
  const std::size_t per_slice = shape.slice_words();
  for (std::size_t s = 0; s < shape.slices(); ++s) {
    std::uint64_t* w = words + s * per_slice;
    for (std::size_t i = 0; i < per_slice; ++i) w[i] = mix(s * per_slice + i);
    m_sums[s] = stream_sum(w, per_slice);
  }
  ::munmap(view, bytes);  // the pages stay in the memfd; this process maps them again when it streams
}

memory_array::~memory_array() {
  if (m_words) ::munmap(const_cast<std::uint64_t*>(m_words), bytes_of(m_shape));
  ::close(m_fd);
}

const std::uint64_t* memory_array::slice(std::size_t i) const {
  std::call_once(m_mapped, [this] {
    // MAP_POPULATE maps every page now, so the first pass does not pay a page fault per 4 KiB.
    void* view = ::mmap(nullptr, bytes_of(m_shape), PROT_READ, MAP_SHARED | MAP_POPULATE, m_fd, 0);
    if (view == MAP_FAILED) fail("memory workload: mmap of the array");
    m_words = static_cast<const std::uint64_t*>(view);
  });
  return m_words + i * m_shape.slice_words();
}

const memory_array& memory_array_of(stream_shape shape) {
  // Never freed: an array lives as long as the process, like the calibration, so no destructor runs at
  // exit while a detached worker thread may still read it.
  static std::mutex lock;
  static auto* arrays = new std::map<std::uint64_t, std::unique_ptr<memory_array>>;
  const std::lock_guard hold(lock);
  auto& slot = (*arrays)[shape.pack()];
  if (!slot) slot = std::make_unique<memory_array>(shape);
  return *slot;
}

std::uint64_t stream_sum(const std::uint64_t* words, std::size_t n) noexcept {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += words[i];
  return sum;
}

}  // namespace conpar::workloads
