// Lock-free single-producer/single-consumer ring with inline storage, so one object can be placement-new'd into memory shared across fork().
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace conpar::runners {

// Destructive-interference granule; fixed rather than std::hardware_destructive_interference_size,
// whose value GCC refuses to promise stable across flags (-Winterference-size), and both sides of a
// shared-memory segment must agree on the layout.
inline constexpr std::size_t k_cache_line = 64;

// Modelled on rigtorp/SPSCQueue, with three differences:
//  * the slots live inside the object (no allocator, no pointers), so the object is position
//    independent and can be constructed in an anonymous shared mapping before fork();
//  * head/tail are free-running 64-bit counters (never wrap in practice), so all Capacity slots are
//    usable and full/empty are `tail - head == Capacity` / `tail == head`;
//  * T is stored as raw bytes and moved with memcpy, so T only has to be trivially copyable
//    (no default constructor needed, nothing to destroy, nothing that points into one process).
// Exactly one producer (try_push) and one consumer (try_pop / pop_some) at a time; the observers
// size_approx / empty_approx may be called from anywhere.
template <class T, std::size_t Capacity>
class alignas(k_cache_line) spsc_ring {
    static_assert(std::is_trivially_copyable_v<T>, "spsc_ring<T>: T is memcpy'd across processes and must be trivially copyable");
    static_assert(Capacity >= 1 && (Capacity & (Capacity - 1)) == 0, "spsc_ring: Capacity must be a power of two");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "spsc_ring: a lock-based atomic keeps its lock in the process, not in the shared object, so it cannot synchronise two processes");

public:
    using value_type = T;

    // Zeroes both indices; placement-new into (zeroed or not) shared memory yields an empty ring.
    // The slot bytes are left uninitialised: they are only read after being written.
    spsc_ring() noexcept
    {
        static_assert(std::is_standard_layout_v<spsc_ring>, "spsc_ring must be standard-layout to live in shared memory");
        static_assert(std::is_trivially_destructible_v<spsc_ring>, "spsc_ring must be droppable by unmapping its segment");
        static_assert(alignof(spsc_ring) >= k_cache_line && sizeof(spsc_ring) % k_cache_line == 0,
                      "spsc_ring must occupy whole cache lines so neighbours in a segment cannot false-share with it");
        static_assert(offsetof(spsc_ring, m_tail) / k_cache_line == offsetof(spsc_ring, m_head_cache) / k_cache_line,
                      "producer index and producer's cached consumer index must share the producer's line");
        static_assert(offsetof(spsc_ring, m_head) / k_cache_line == offsetof(spsc_ring, m_tail_cache) / k_cache_line,
                      "consumer index and consumer's cached producer index must share the consumer's line");
        static_assert(offsetof(spsc_ring, m_head) / k_cache_line != offsetof(spsc_ring, m_tail) / k_cache_line,
                      "producer and consumer lines must differ");
        static_assert(offsetof(spsc_ring, m_slots) % k_cache_line == 0 && offsetof(spsc_ring, m_slots) >= offsetof(spsc_ring, m_tail_cache) + sizeof(std::uint64_t),
                      "slots must start on their own cache line");
    }

    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    // Producer only. Returns false (and copies nothing) when the ring is full.
    [[nodiscard]] bool try_push(const T& value) noexcept
    {
        // relaxed: only this thread ever stores m_tail, so it reads its own last value.
        const std::uint64_t tail = m_tail.load(std::memory_order_relaxed);
        if (tail - m_head_cache == Capacity) {
            // acquire: pairs with the consumer's release of m_head, so its reads of the freed slots
            // are finished before we overwrite them.
            m_head_cache = m_head.load(std::memory_order_acquire);
            if (tail - m_head_cache == Capacity) {
                return false;
            }
        }
        std::memcpy(slot(tail), &value, sizeof(T));
        // release: publishes the slot bytes written above to the consumer's acquire of m_tail.
        m_tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer only. Returns false (and leaves `out` untouched) when the ring is empty.
    [[nodiscard]] bool try_pop(T& out) noexcept
    {
        // relaxed: only this thread ever stores m_head.
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);
        if (head == m_tail_cache) {
            // acquire: pairs with the producer's release of m_tail, making the slot bytes visible.
            m_tail_cache = m_tail.load(std::memory_order_acquire);
            if (head == m_tail_cache) {
                return false;
            }
        }
        std::memcpy(&out, slot(head), sizeof(T));
        // release: our read of the slot happens-before the producer reuses it (its acquire of m_head).
        m_head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Consumer only. Pops up to `max` items into out[0..n) in FIFO order and returns n; 0 means empty.
    // n may be less than both `max` and the current size: it is bounded by the last snapshot of the
    // producer index, refreshed (one acquire load) only when that snapshot is used up.
    // One release store of the consumer index for the whole batch.
    [[nodiscard]] std::size_t pop_some(T* out, std::size_t max) noexcept
    {
        // relaxed: only this thread ever stores m_head.
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);
        std::uint64_t available = m_tail_cache - head;
        // Refresh only when the cached snapshot is drained (as try_pop does): a consumer that lags
        // works through its snapshot without pulling the producer's hot line on every call.
        if (available == 0) {
            // acquire: pairs with the producer's release of m_tail; covers every slot up to the value read.
            m_tail_cache = m_tail.load(std::memory_order_acquire);
            available = m_tail_cache - head;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(available, max));
        if (n == 0) {
            return 0;
        }
        const std::size_t first = static_cast<std::size_t>(head & k_mask);
        const std::size_t run = std::min(n, Capacity - first);
        std::memcpy(out, slot(head), run * sizeof(T));
        std::memcpy(out + run, m_slots, (n - run) * sizeof(T));
        // release: all n slot reads happen-before the producer may reuse those slots.
        m_head.store(head + n, std::memory_order_release);
        return n;
    }

    // Number of queued items, exact when producer and consumer are quiescent, otherwise a value
    // the ring held at some instant during the call, clamped to [0, Capacity].
    [[nodiscard]] std::size_t size_approx() const noexcept
    {
        // acquire: synchronises with the consumer's release of this head value, and the consumer had
        // already observed a tail >= head, so the tail load below cannot return anything smaller.
        const std::uint64_t head = m_head.load(std::memory_order_acquire);
        // acquire: a caller acting on "non-empty" may go on to read slots (as try_pop would).
        const std::uint64_t tail = m_tail.load(std::memory_order_acquire);
        // tail < head is impossible per the comment above; the guard is one compare and rules out ~2^64 for good.
        return tail <= head ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, Capacity));
    }

    [[nodiscard]] bool empty_approx() const noexcept { return size_approx() == 0; }

    // Empties the ring. Only for a ring neither end is using: its peer process is dead and reaped.
    void reset() noexcept
    {
        m_tail.store(0, std::memory_order_relaxed);
        m_head.store(0, std::memory_order_relaxed);
        m_head_cache = 0;
        m_tail_cache = 0;
    }

    [[nodiscard]] static constexpr std::size_t capacity() noexcept { return Capacity; }

private:
    static constexpr std::uint64_t k_mask = Capacity - 1;

    [[nodiscard]] std::byte* slot(std::uint64_t index) noexcept { return m_slots + (index & k_mask) * sizeof(T); }

    // Producer's line: written by the producer on every push, read by the consumer only when its cache runs dry.
    // alignas: keeps the producer's hot index off the consumer's line (false sharing would cost a transfer per op).
    alignas(k_cache_line) std::atomic<std::uint64_t> m_tail{0};
    std::uint64_t m_head_cache{0}; // producer-local copy of m_head; refreshed only when the ring looks full

    // Consumer's line.
    // alignas: same reason, mirrored.
    alignas(k_cache_line) std::atomic<std::uint64_t> m_head{0};
    std::uint64_t m_tail_cache{0}; // consumer-local copy of m_tail; refreshed only when the ring looks empty

    // alignas: slot data starts on a fresh line (so writes to slot 0 don't hit the consumer's index line),
    // and at least alignof(T) so memcpy'd bytes form a properly aligned T for batch copies.
    alignas(std::max(k_cache_line, alignof(T))) std::byte m_slots[Capacity * sizeof(T)];
};

} // namespace conpar::runners
