// Futex wake-up word that lives in shared memory, so processes can spin, then block for a bounded time, instead of burning a core or sleeping forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace conpar::runners {

namespace detail {
// FUTEX_WAKE (shared, not _PRIVATE) of every waiter on `word`. Out of line: it is the slow path.
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;
} // namespace detail

// One spin-loop hint: tells the core we are busy-waiting (frees pipeline resources for the SMT
// sibling and avoids the memory-order mis-speculation flush on loop exit).
inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Usage, waiter side (any process mapping the doorbell):
//     for (;;) {
//         const auto seen = bell.prepare();      // 1. snapshot the sequence
//         if (condition()) break;                // 2. re-check the real condition
//         bell.wait(seen, 1ms);                  // 3. sleeps only if nobody rang since (1)
//         if (!peer_alive()) ...;                // 4. caller's liveness check: nothing waits unboundedly
//     }
// Ringer side: make the condition true (e.g. push into a ring), then ring().
//
// Why no wake-up is lost. Waiter: W1 m_waiters.fetch_add (seq_cst), W2 m_seq.load (seq_cst),
// W3 FUTEX_WAIT(&m_seq, seen) which the kernel only enters if m_seq still == seen (checked under the
// futex bucket lock). Ringer: R1 m_seq.fetch_add (seq_cst), R2 m_waiters.load (seq_cst), wake if != 0.
// All four are in the single seq_cst total order S. If R2 reads 0 then R2 precedes W1 in S, hence
// R1 < R2 < W1 < W2 and W2 sees the new seq: the waiter does not sleep. If instead W2 reads the old
// seq then W2 < R1, so W1 < R2 and R2 sees m_waiters >= 1: the ringer issues FUTEX_WAKE, which
// either finds the waiter queued or precedes W3, in which case the kernel's value check fails (EAGAIN).
// With only release/acquire this is the classic store-buffer (Dekker) pattern and both sides may
// read the stale value: that is the lost wake-up. seq wraps at 2^32; a waiter would have to miss
// exactly 2^32 rings to be fooled, and even then only until its timeout.
struct alignas(64) doorbell { // alignas: own cache line, so rings don't false-share with ring indices or other bells
    std::atomic<std::uint32_t> m_seq{0};     // the futex word: bumped by every ring()
    std::atomic<std::uint32_t> m_waiters{0}; // processes between W1 and their decrement; lets ring() skip the syscall

    // Snapshot of the sequence, to be taken BEFORE re-checking the condition and passed to wait().
    [[nodiscard]] std::uint32_t prepare() const noexcept
    {
        // acquire: pairs with ring()'s RMW, so whatever the ringer published before ringing is
        // visible to the condition re-check that follows; reading a new seq implies seeing its data.
        return m_seq.load(std::memory_order_acquire);
    }

    // Blocks until ring(), `timeout` (relative, CLOCK_MONOTONIC), a signal, or a spurious wake-up,
    // whichever is first; returns at once if the sequence already moved past `seen`. Never longer than
    // `timeout` (plus scheduling latency); timeout <= 0 does not block at all.
    void wait(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept;

    // Wakes every waiter. Fast path (nobody blocked): one atomic add plus a load of the same line, no syscall.
    void ring() noexcept
    {
        // seq_cst (implies release): R1 of the lost-wake-up argument above; also publishes the
        // caller's prior writes to prepare()'s acquire.
        m_seq.fetch_add(1, std::memory_order_seq_cst);
        // seq_cst: R2 of the argument; must not be satisfied before R1 is visible (store-load order).
        if (m_waiters.load(std::memory_order_seq_cst) != 0) {
            detail::futex_wake_all(m_seq);
        }
    }
};

static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && alignof(std::atomic<std::uint32_t>) == 4,
              "doorbell: the futex syscall operates on an aligned 32-bit word");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "doorbell: the word is shared across processes, so the atomic must not hide a process-local lock");
static_assert(sizeof(doorbell) == 64 && alignof(doorbell) == 64, "doorbell: exactly one cache line");
static_assert(std::is_standard_layout_v<doorbell> && std::is_trivially_destructible_v<doorbell>,
              "doorbell: must be placeable in, and droppable with, a shared-memory segment");

// Spins `spins` times on ready(), then does one prepare / re-check / bounded wait round.
// Returns ready()'s final value: false means "timed out (or woke spuriously), not ready yet" and the
// caller is expected to run its own liveness / deadline checks and call again. That split is how
// waiting stays bounded: no call here sleeps longer than block_timeout.
template <class Pred>
[[nodiscard]] bool spin_then_wait(doorbell& bell, Pred ready, int spins, std::chrono::nanoseconds block_timeout) noexcept(noexcept(ready()))
{
    for (int i = 0; i < spins; ++i) {
        if (ready()) {
            return true;
        }
        cpu_relax();
    }
    const std::uint32_t seen = bell.prepare();
    if (ready()) {
        return true;
    }
    bell.wait(seen, block_timeout);
    return ready();
}

} // namespace conpar::runners
