// Out-of-line slow paths of the doorbell: the futex syscalls, kept here so the header stays free of <linux/futex.h>.
#include "runners/doorbell.hpp"

#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace conpar::runners {

namespace detail {

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept
{
    const int saved_errno = errno;
    // FUTEX_WAKE, not FUTEX_WAKE_PRIVATE: the waiter may be another process mapping the same page,
    // and shared futexes are keyed by the physical page, private ones by (mm, address).
    (void)::syscall(SYS_futex, static_cast<void*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
    errno = saved_errno;
}

} // namespace detail

void doorbell::wait(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept
{
    if (timeout <= std::chrono::nanoseconds::zero()) {
        return;
    }
    // seq_cst: W1 of the lost-wake-up argument in the header; must be ordered before the re-check below.
    m_waiters.fetch_add(1, std::memory_order_seq_cst);
    // seq_cst: W2; a release/acquire pair would allow this load to be satisfied before W1 is visible.
    if (m_seq.load(std::memory_order_seq_cst) == seen) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
        timespec rel{};
        rel.tv_sec = static_cast<std::time_t>(secs.count());
        rel.tv_nsec = static_cast<long>((timeout - secs).count());
        const int saved_errno = errno;
        // FUTEX_WAIT (shared, see futex_wake_all) with a RELATIVE timeout measured on CLOCK_MONOTONIC.
        // The kernel sleeps only if m_seq still equals `seen`; it returns 0 (woken, possibly spuriously),
        // or -1 with EAGAIN (value changed), ETIMEDOUT or EINTR. All of them mean "go re-check", so the
        // result is deliberately ignored.
        (void)::syscall(SYS_futex, static_cast<void*>(&m_seq), FUTEX_WAIT, seen, &rel, nullptr, 0);
        errno = saved_errno;
    }
    // relaxed: the count is only a hint for ring(); a stale non-zero costs one needless FUTEX_WAKE,
    // and a stale zero cannot occur for a waiter that is still between W1 and here.
    m_waiters.fetch_sub(1, std::memory_order_relaxed);
}

} // namespace conpar::runners
