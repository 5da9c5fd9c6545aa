// Tests for spsc_ring and doorbell, in-process and across fork() through anonymous shared memory, plus a printed latency/throughput probe.
#include "runners/spsc_ring.hpp"
#include "runners/doorbell.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <boost/interprocess/mapped_region.hpp>

#include <gtest/gtest.h>

namespace {

namespace bip = boost::interprocess;
using namespace std::chrono_literals;
using conpar::runners::cpu_relax;
using conpar::runners::doorbell;
using conpar::runners::spin_then_wait;
using conpar::runners::spsc_ring;
using clock_type = std::chrono::steady_clock;

// Spins before blocking: 1024 PAUSEs is ~18 us on the Zen 5 dev box (~40 us on Skylake-class PAUSE),
// about the cost of one futex sleep + wake, the classic competitive-spinning bound; far longer than a
// cross-core hand-off (<1 us) so a busy peer is caught without a syscall, yet short on a 2-core box.
constexpr int k_spins = 1024;
// Per-round block bound: every blocked side wakes at least this often to run its liveness checks.
constexpr auto k_block_timeout = 1ms;
// Whole-test bound for any cross-process exchange; generous for sanitizer builds on 2 slow cores.
constexpr auto k_exchange_deadline = 120s;
// Spin iterations between liveness checks in pure spin loops: getppid()/clock reads are ~50 ns, so
// checking every 64k pauses keeps them negligible yet reacts within milliseconds.
constexpr std::uint32_t k_liveness_stride = 1u << 16;

// Constructs one T at the next alignof(T) boundary of a shared mapping (zero-filled by the kernel).
template <class T>
T* emplace_in(bip::mapped_region& region, std::size_t& offset)
{
    offset = (offset + alignof(T) - 1) / alignof(T) * alignof(T);
    if (offset + sizeof(T) > region.get_size()) {
        throw std::bad_alloc();
    }
    void* where = static_cast<std::byte*>(region.get_address()) + offset;
    offset += sizeof(T);
    return ::new (where) T();
}

// A forked child running `body` (returning its exit code). The destructor SIGKILLs and reaps a child
// that was not joined, so a failing ASSERT in the parent never leaves a process behind. The child
// also gets PR_SET_PDEATHSIG so it dies with the parent.
class child_process {
public:
    template <class Body>
    explicit child_process(Body&& body)
    {
        const pid_t parent = ::getpid();
        std::fflush(nullptr); // nothing buffered may be written twice
        m_pid = ::fork();
        if (m_pid == 0) {
            int code = 100;
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && ::getppid() == parent) {
                try {
                    code = body(parent);
                } catch (...) {
                    code = 101;
                }
            }
            ::_exit(code); // no atexit handlers, no gtest teardown, no flushing of the parent's buffers
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process()
    {
        if (m_pid > 0 && !m_reaped) {
            ::kill(m_pid, SIGKILL);
            int status = 0;
            while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }

    [[nodiscard]] bool started() const noexcept { return m_pid > 0; }

    // Non-blocking: true once the child has terminated (and is reaped).
    [[nodiscard]] bool exited()
    {
        if (m_pid > 0 && !m_reaped && ::waitpid(m_pid, &m_status, WNOHANG) == m_pid) {
            m_reaped = true;
        }
        return m_reaped;
    }

    // Waits at most `timeout` for the child; returns its exit code, or -1 if it was killed / timed out
    // (in which case it is SIGKILLed and reaped).
    int join(std::chrono::milliseconds timeout)
    {
        if (m_pid <= 0) {
            return -1; // fork failed; never pass -1 to kill()
        }
        const auto deadline = clock_type::now() + timeout;
        while (!exited() && clock_type::now() < deadline) {
            std::this_thread::sleep_for(1ms);
        }
        if (!m_reaped) {
            ::kill(m_pid, SIGKILL);
            while (::waitpid(m_pid, &m_status, 0) < 0 && errno == EINTR) {
            }
            m_reaped = true;
            return -1;
        }
        return WIFEXITED(m_status) ? WEXITSTATUS(m_status) : -1;
    }

private:
    pid_t m_pid = -1;
    int m_status = 0;
    bool m_reaped = false;
};

// Pins the calling thread to the n-th CPU of `allowed` (wrapping). Best effort: used only by the probe.
bool pin_to(const cpu_set_t& allowed, int nth)
{
    const int count = CPU_COUNT(&allowed);
    if (count < 2) {
        return false;
    }
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &allowed) && seen++ == nth % count) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            return ::sched_setaffinity(0, sizeof(one), &one) == 0;
        }
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// single process

TEST(SpscRing, PushPopPreservesOrder)
{
    spsc_ring<std::uint64_t, 16> ring;
    EXPECT_TRUE(ring.empty_approx());
    for (std::uint64_t i = 1; i <= 10; ++i) {
        ASSERT_TRUE(ring.try_push(i));
    }
    EXPECT_EQ(ring.size_approx(), 10u);
    for (std::uint64_t i = 1; i <= 10; ++i) {
        std::uint64_t v = 0;
        ASSERT_TRUE(ring.try_pop(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_TRUE(ring.empty_approx());
}

TEST(SpscRing, FullAndEmptyBehaviour)
{
    spsc_ring<std::uint32_t, 8> ring;
    static_assert(decltype(ring)::capacity() == 8);
    std::uint32_t v = 77;
    EXPECT_FALSE(ring.try_pop(v));
    EXPECT_EQ(v, 77u) << "a failed pop must not write its output";
    for (std::uint32_t i = 0; i < 8; ++i) {
        ASSERT_TRUE(ring.try_push(i)) << "all Capacity slots are usable";
    }
    EXPECT_EQ(ring.size_approx(), 8u);
    EXPECT_FALSE(ring.try_push(99u));
    EXPECT_FALSE(ring.try_push(99u)) << "still full after a cached-index refresh";
    ASSERT_TRUE(ring.try_pop(v));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(ring.try_push(8u)) << "one slot freed, one push fits";
    EXPECT_FALSE(ring.try_push(99u));
    for (std::uint32_t i = 1; i <= 8; ++i) {
        ASSERT_TRUE(ring.try_pop(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(ring.try_pop(v));
    EXPECT_TRUE(ring.empty_approx());
    EXPECT_EQ(ring.size_approx(), 0u);
}

TEST(SpscRing, WrapAroundManyTimes)
{
    spsc_ring<std::uint64_t, 8> ring;
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    // Uneven push/pop bursts (1..8 and 1..7) walk every head/tail offset combination; 100k items
    // wrap the 8-slot ring 12,500 times.
    for (int round = 0; next_out < 100'000; ++round) {
        const int pushes = 1 + round % 8;
        for (int i = 0; i < pushes && ring.try_push(next_in); ++i) {
            ++next_in;
        }
        const int pops = 1 + (round * 5) % 7;
        for (int i = 0; i < pops; ++i) {
            std::uint64_t v = 0;
            if (!ring.try_pop(v)) {
                break;
            }
            ASSERT_EQ(v, next_out);
            ++next_out;
        }
        ASSERT_LE(ring.size_approx(), decltype(ring)::capacity());
        ASSERT_EQ(ring.size_approx(), next_in - next_out);
    }
}

TEST(SpscRing, PopSomeBatchesAcrossTheWrap)
{
    spsc_ring<std::uint64_t, 8> ring;
    std::array<std::uint64_t, 16> out{};
    EXPECT_EQ(ring.pop_some(out.data(), out.size()), 0u);
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    for (int round = 0; round < 10'000; ++round) {
        while (ring.try_push(next_in)) {
            ++next_in;
        }
        const std::size_t want = 1 + static_cast<std::size_t>(round) % 11; // sometimes > Capacity
        const std::size_t queued = next_in - next_out;
        const std::size_t got = ring.pop_some(out.data(), want);
        // At least one item whenever the ring is non-empty; never more than asked or than queued
        // (it may be fewer: a batch is bounded by the consumer's last snapshot of the tail).
        ASSERT_GE(got, 1u);
        ASSERT_LE(got, std::min(want, queued));
        for (std::size_t i = 0; i < got; ++i) {
            ASSERT_EQ(out[i], next_out++);
        }
    }
    EXPECT_EQ(ring.pop_some(out.data(), 0), 0u);
    // Draining with big batches returns everything, in order, then reports empty.
    for (std::size_t got = 0; (got = ring.pop_some(out.data(), out.size())) != 0;) {
        for (std::size_t i = 0; i < got; ++i) {
            ASSERT_EQ(out[i], next_out++);
        }
    }
    EXPECT_EQ(next_out, next_in);
    EXPECT_TRUE(ring.empty_approx());
}

// T only has to be trivially copyable: no default constructor, odd size.
struct odd_payload {
    explicit odd_payload(std::uint32_t x) : a(x), b(static_cast<std::uint16_t>(x * 7)), c(static_cast<std::uint8_t>(x)) {}
    std::uint32_t a;
    std::uint16_t b;
    std::uint8_t c;
};

TEST(SpscRing, TriviallyCopyablePayloadWithoutDefaultConstructor)
{
    spsc_ring<odd_payload, 4> ring;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        ASSERT_TRUE(ring.try_push(odd_payload{i}));
        odd_payload out{0};
        ASSERT_TRUE(ring.try_pop(out));
        EXPECT_EQ(out.a, i);
        EXPECT_EQ(out.b, static_cast<std::uint16_t>(i * 7));
        EXPECT_EQ(out.c, static_cast<std::uint8_t>(i));
    }
}

TEST(SpscRing, LayoutFitsSharedMemory)
{
    using ring_t = spsc_ring<std::uint64_t, 64>;
    EXPECT_TRUE(std::is_standard_layout_v<ring_t>);
    EXPECT_TRUE(std::is_trivially_destructible_v<ring_t>);
    EXPECT_EQ(alignof(ring_t), 64u);
    // producer line + consumer line + 64 * 8 bytes of slots.
    EXPECT_EQ(sizeof(ring_t), 64u + 64u + 64u * 8u);

    // Placement-new into a mapping that already holds garbage yields an empty ring.
    bip::mapped_region region = bip::anonymous_shared_memory(sizeof(ring_t) + 64);
    std::memset(region.get_address(), 0xA5, region.get_size());
    std::size_t offset = 0;
    ring_t* ring = emplace_in<ring_t>(region, offset);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ring) % 64, 0u);
    EXPECT_TRUE(ring->empty_approx());
    std::uint64_t v = 0;
    EXPECT_FALSE(ring->try_pop(v));
    EXPECT_TRUE(ring->try_push(5));
    EXPECT_TRUE(ring->try_pop(v));
    EXPECT_EQ(v, 5u);
}

// Same protocol as the cross-process test, but with threads so ThreadSanitizer can check the orderings.
TEST(SpscRing, TwoThreadsInOrder)
{
    constexpr std::uint64_t k_items = 100'000;
    spsc_ring<std::uint64_t, 64> ring;
    doorbell bell;
    std::thread producer([&] {
        for (std::uint64_t i = 1; i <= k_items; ++i) {
            while (!ring.try_push(i)) {
                cpu_relax();
            }
            bell.ring();
        }
    });
    std::uint64_t expected = 1;
    std::uint64_t mismatches = 0;
    std::array<std::uint64_t, 32> buf{};
    const auto deadline = clock_type::now() + k_exchange_deadline;
    while (expected <= k_items && clock_type::now() < deadline) {
        if (!spin_then_wait(bell, [&] { return !ring.empty_approx(); }, k_spins, k_block_timeout)) {
            continue;
        }
        const std::size_t n = ring.pop_some(buf.data(), buf.size());
        for (std::size_t i = 0; i < n; ++i) {
            mismatches += buf[i] != expected++;
        }
    }
    producer.join();
    EXPECT_EQ(expected, k_items + 1);
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ(bell.m_waiters.load(), 0u);
}

// ---------------------------------------------------------------------------------------------
// cross process

TEST(SpscRing, CrossProcessEchoMillion)
{
    using ring_t = spsc_ring<std::uint64_t, 1024>;
    constexpr std::uint64_t k_items = 1'000'000;

    bip::mapped_region region = bip::anonymous_shared_memory(1 << 20);
    std::size_t offset = 0;
    ring_t* const to_child = emplace_in<ring_t>(region, offset);
    ring_t* const to_parent = emplace_in<ring_t>(region, offset);
    doorbell* const child_bell = emplace_in<doorbell>(region, offset);  // parent rings: pushed, or freed space
    doorbell* const parent_bell = emplace_in<doorbell>(region, offset); // child rings: pushed (which also freed space)

    child_process child([&](pid_t parent) {
        const auto deadline = clock_type::now() + k_exchange_deadline;
        std::uint64_t expected = 1;
        std::uint64_t held = 0;
        bool holding = false;
        while (expected <= k_items || holding) {
            bool progressed = false;
            if (!holding && to_child->try_pop(held)) {
                if (held != expected) {
                    return 3;
                }
                ++expected;
                holding = true;
                progressed = true;
            }
            if (holding && to_parent->try_push(held * 3)) {
                holding = false;
                progressed = true;
                parent_bell->ring();
            }
            if (progressed) {
                continue;
            }
            const bool ready = spin_then_wait(
                *child_bell,
                [&] { return holding ? to_parent->size_approx() < ring_t::capacity() : !to_child->empty_approx(); },
                k_spins, k_block_timeout);
            if (!ready && (::getppid() != parent || clock_type::now() > deadline)) {
                return 4;
            }
        }
        return 0;
    });
    ASSERT_TRUE(child.started());

    const auto deadline = clock_type::now() + k_exchange_deadline;
    std::uint64_t next_to_send = 1;
    std::uint64_t received = 0;
    std::uint64_t sum = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t first_bad_index = 0;
    std::array<std::uint64_t, 256> buf{};
    bool child_gone = false;
    while (received < k_items) {
        bool progressed = false;
        while (next_to_send <= k_items && to_child->try_push(next_to_send)) {
            ++next_to_send;
            progressed = true;
        }
        const std::size_t n = to_parent->pop_some(buf.data(), buf.size());
        for (std::size_t i = 0; i < n; ++i) {
            ++received;
            if (buf[i] != received * 3 && mismatches++ == 0) {
                first_bad_index = received;
            }
            sum += buf[i];
        }
        if (n != 0) {
            progressed = true;
        }
        if (progressed) {
            child_bell->ring();
            continue;
        }
        const bool ready = spin_then_wait(
            *parent_bell,
            [&] {
                return !to_parent->empty_approx() ||
                       (next_to_send <= k_items && to_child->size_approx() < ring_t::capacity());
            },
            k_spins, k_block_timeout);
        if (!ready && (child.exited() || clock_type::now() > deadline)) {
            child_gone = true;
            break;
        }
    }
    const int code = child.join(10s);
    EXPECT_FALSE(child_gone) << "child ended or deadline passed after " << received << " items";
    EXPECT_EQ(code, 0) << "child exit status (3 = order violation seen by child, 4 = liveness/deadline)";
    EXPECT_EQ(received, k_items);
    EXPECT_EQ(mismatches, 0u) << "first bad index " << first_bad_index;
    EXPECT_EQ(sum, 3 * (k_items * (k_items + 1) / 2));
    EXPECT_TRUE(to_child->empty_approx());
    EXPECT_TRUE(to_parent->empty_approx());
    EXPECT_EQ(parent_bell->m_waiters.load(), 0u);
    EXPECT_EQ(child_bell->m_waiters.load(), 0u);
}

// ---------------------------------------------------------------------------------------------
// doorbell

TEST(Doorbell, WaitWithoutRingTimesOut)
{
    doorbell bell;
    const std::uint32_t seen = bell.prepare();
    const auto t0 = clock_type::now();
    bell.wait(seen, 10ms);
    const auto elapsed = clock_type::now() - t0;
    EXPECT_LT(elapsed, 1s) << "wait must be bounded by its timeout";
    EXPECT_GE(elapsed, 5ms) << "futex should have slept for (about) the timeout";
    EXPECT_EQ(bell.m_waiters.load(), 0u);
    EXPECT_EQ(bell.prepare(), seen);
}

TEST(Doorbell, NonPositiveTimeoutDoesNotBlock)
{
    doorbell bell;
    const auto t0 = clock_type::now();
    bell.wait(bell.prepare(), 0ns);
    bell.wait(bell.prepare(), -5s);
    EXPECT_LT(clock_type::now() - t0, 1s);
    EXPECT_EQ(bell.m_waiters.load(), 0u);
}

TEST(Doorbell, RingBeforeWaitIsNotLost)
{
    doorbell bell;
    const std::uint32_t seen = bell.prepare();
    bell.ring(); // no waiter: fast path, only the sequence moves
    EXPECT_EQ(bell.prepare(), seen + 1);
    const auto t0 = clock_type::now();
    bell.wait(seen, 5s);
    EXPECT_LT(clock_type::now() - t0, 1s) << "a ring between prepare() and wait() must make wait() return at once";
}

TEST(Doorbell, RingFromAnotherProcessWakesWaiter)
{
    bip::mapped_region region = bip::anonymous_shared_memory(4096);
    std::size_t offset = 0;
    doorbell* const bell = emplace_in<doorbell>(region, offset);

    child_process child([&](pid_t parent) {
        // Wait until the parent is registered as a waiter, then give it time to actually enter
        // FUTEX_WAIT so the ring exercises the kernel wake path rather than the value check.
        const auto deadline = clock_type::now() + 10s;
        while (bell->m_waiters.load() == 0) {
            if (clock_type::now() > deadline || ::getppid() != parent) {
                return 3;
            }
            std::this_thread::sleep_for(100us);
        }
        std::this_thread::sleep_for(50ms);
        bell->ring();
        return 0;
    });
    ASSERT_TRUE(child.started());

    const std::uint32_t seen = bell->prepare();
    const auto t0 = clock_type::now();
    bell->wait(seen, 5s);
    const auto elapsed = clock_type::now() - t0;
    EXPECT_NE(bell->prepare(), seen) << "returned without a ring";
    EXPECT_LT(elapsed, 2s) << "ring from the child did not wake the parent's FUTEX_WAIT";
    EXPECT_EQ(child.join(10s), 0);
    EXPECT_EQ(bell->m_waiters.load(), 0u);
}

TEST(Doorbell, SpinThenWaitIsBoundedWhenNeverReady)
{
    doorbell bell;
    int calls = 0;
    const auto t0 = clock_type::now();
    const bool ready = spin_then_wait(bell, [&] { ++calls; return false; }, 100, 10ms);
    EXPECT_FALSE(ready);
    EXPECT_LT(clock_type::now() - t0, 1s);
    EXPECT_EQ(calls, 100 + 2) << "spins, one re-check after prepare(), one final check";
}

TEST(Doorbell, SpinThenWaitReturnsAsSoonAsReady)
{
    doorbell bell;
    int calls = 0;
    EXPECT_TRUE(spin_then_wait(bell, [&] { return ++calls == 3; }, 100, 5s));
    EXPECT_EQ(calls, 3);
}

// Threaded wake-up, so ThreadSanitizer sees both sides of the seq/waiters protocol.
TEST(Doorbell, ThreadRingWakesBlockedWaiter)
{
    doorbell bell;
    std::atomic<bool> flag{false};
    std::thread ringer([&] {
        const auto deadline = clock_type::now() + 10s;
        while (bell.m_waiters.load() == 0 && clock_type::now() < deadline) {
            std::this_thread::sleep_for(100us);
        }
        std::this_thread::sleep_for(20ms);
        flag.store(true, std::memory_order_relaxed); // published by ring()'s release
        bell.ring();
    });
    const auto t0 = clock_type::now();
    bool ok = false;
    while (!ok && clock_type::now() - t0 < 10s) {
        ok = spin_then_wait(bell, [&] { return flag.load(std::memory_order_relaxed); }, 0, 5s);
    }
    const auto elapsed = clock_type::now() - t0;
    ringer.join();
    EXPECT_TRUE(ok);
    EXPECT_LT(elapsed, 2s);
}

// ---------------------------------------------------------------------------------------------
// measurement (prints, asserts only correctness)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Instrumented builds still run the probe's code paths, on 1/20 of the work: their numbers mean nothing.
constexpr std::size_t k_probe_divisor = 20;
#else
constexpr std::size_t k_probe_divisor = 1;
#endif

struct alignas(64) probe_control { // alignas: keep the control flags off the rings' lines
    std::atomic<std::uint32_t> m_child_ready{0};
    std::atomic<std::uint32_t> m_child_done{0};
    std::atomic<std::uint64_t> m_child_sum{0};
};

enum class wait_mode { spin, spin_then_block, block };

const char* name_of(wait_mode m)
{
    switch (m) {
    case wait_mode::spin: return "pure spin";
    case wait_mode::spin_then_block: return "spin_then_wait + ring()";
    case wait_mode::block: return "futex only (0 spins)";
    }
    return "?";
}

struct ping_result {
    double median_ns;
    double p99_ns;
    double mean_ns;
    int child_code;
};

ping_result ping_pong(wait_mode mode, std::size_t rounds, const cpu_set_t* allowed)
{
    using ring_t = spsc_ring<std::uint64_t, 64>;
    constexpr std::uint64_t k_stop = ~std::uint64_t{0};
    constexpr std::size_t k_warmup = 10'000;
    bip::mapped_region region = bip::anonymous_shared_memory(1 << 16);
    std::size_t offset = 0;
    ring_t* const ping = emplace_in<ring_t>(region, offset);
    ring_t* const pong = emplace_in<ring_t>(region, offset);
    doorbell* const ping_bell = emplace_in<doorbell>(region, offset);
    doorbell* const pong_bell = emplace_in<doorbell>(region, offset);
    const int spins = mode == wait_mode::block ? 0 : k_spins;

    // Receive one value, spinning or spin-then-blocking; false if the peer vanished.
    auto receive = [mode, spins](ring_t& ring, doorbell& bell, std::uint64_t& v, auto&& peer_alive) {
        if (mode == wait_mode::spin) {
            for (std::uint32_t i = 1;; ++i) {
                if (ring.try_pop(v)) {
                    return true;
                }
                cpu_relax();
                if (i % k_liveness_stride == 0 && !peer_alive()) {
                    return false;
                }
            }
        }
        while (!spin_then_wait(bell, [&] { return !ring.empty_approx(); }, spins, k_block_timeout)) {
            if (!peer_alive()) {
                return false;
            }
        }
        return ring.try_pop(v);
    };
    auto send = [mode](ring_t& ring, doorbell& bell, std::uint64_t v) {
        while (!ring.try_push(v)) { // cannot stay full: one message in flight
            cpu_relax();
        }
        if (mode != wait_mode::spin) {
            bell.ring();
        }
    };

    child_process child([&](pid_t parent) {
        if (allowed != nullptr) {
            (void)pin_to(*allowed, 1);
        }
        const auto deadline = clock_type::now() + k_exchange_deadline;
        auto alive = [&] { return ::getppid() == parent && clock_type::now() < deadline; };
        for (;;) {
            std::uint64_t v = 0;
            if (!receive(*ping, *ping_bell, v, alive)) {
                return 4;
            }
            if (v == k_stop) {
                return 0;
            }
            send(*pong, *pong_bell, v + 1);
        }
    });
    if (!child.started()) {
        return {0, 0, 0, -1};
    }

    const auto deadline = clock_type::now() + k_exchange_deadline;
    auto alive = [&] { return !child.exited() && clock_type::now() < deadline; };
    std::vector<std::int64_t> samples;
    samples.reserve(rounds);
    bool ok = true;
    clock_type::time_point measured_start{};
    for (std::size_t i = 0; ok && i < k_warmup + rounds; ++i) {
        if (i == k_warmup) {
            measured_start = clock_type::now();
        }
        const auto t0 = clock_type::now();
        send(*ping, *ping_bell, i);
        std::uint64_t v = 0;
        ok = receive(*pong, *pong_bell, v, alive) && v == i + 1;
        const auto t1 = clock_type::now();
        if (i >= k_warmup) {
            samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        }
    }
    const auto total = clock_type::now() - measured_start;
    send(*ping, *ping_bell, k_stop);
    const int code = child.join(10s);
    if (!ok || samples.empty()) {
        return {0, 0, 0, code == 0 ? -2 : code};
    }
    std::sort(samples.begin(), samples.end());
    return {static_cast<double>(samples[samples.size() / 2]), static_cast<double>(samples[samples.size() * 99 / 100]),
            static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(total).count()) / static_cast<double>(samples.size()),
            code};
}

struct throughput_result {
    double items_per_s;
    bool sum_ok;
    int child_code;
};

// Parent produces [1, items] as fast as it can; child consumes with pop_some (batch) or try_pop.
throughput_result one_way(std::uint64_t items, bool batch, const cpu_set_t* allowed)
{
    using ring_t = spsc_ring<std::uint64_t, 4096>;
    bip::mapped_region region = bip::anonymous_shared_memory(1 << 20);
    std::size_t offset = 0;
    ring_t* const ring = emplace_in<ring_t>(region, offset);
    probe_control* const ctl = emplace_in<probe_control>(region, offset);

    child_process child([&](pid_t parent) {
        if (allowed != nullptr) {
            (void)pin_to(*allowed, 1);
        }
        const auto deadline = clock_type::now() + k_exchange_deadline;
        ctl->m_child_ready.store(1, std::memory_order_release); // release: ring is set up and we are spinning
        std::uint64_t sum = 0;
        std::uint64_t got = 0;
        std::array<std::uint64_t, 256> buf{};
        std::uint32_t idle = 0;
        while (got < items) {
            std::size_t n = 0;
            if (batch) {
                n = ring->pop_some(buf.data(), buf.size());
            } else {
                n = ring->try_pop(buf[0]) ? 1 : 0;
            }
            for (std::size_t i = 0; i < n; ++i) {
                sum += buf[i];
            }
            got += n;
            if (n == 0) {
                cpu_relax();
                if (++idle % k_liveness_stride == 0 && (::getppid() != parent || clock_type::now() > deadline)) {
                    return 4;
                }
            }
        }
        ctl->m_child_sum.store(sum, std::memory_order_relaxed);
        ctl->m_child_done.store(1, std::memory_order_release); // release: publishes m_child_sum
        return 0;
    });
    if (!child.started()) {
        return {0, false, -1};
    }
    const auto deadline = clock_type::now() + k_exchange_deadline;
    while (ctl->m_child_ready.load(std::memory_order_acquire) == 0 && clock_type::now() < deadline && !child.exited()) {
        std::this_thread::sleep_for(100us);
    }
    const auto t0 = clock_type::now();
    bool ok = true;
    std::uint32_t idle = 0;
    for (std::uint64_t i = 1; ok && i <= items; ++i) {
        while (!ring->try_push(i)) {
            cpu_relax();
            if (++idle % k_liveness_stride == 0 && (child.exited() || clock_type::now() > deadline)) {
                ok = false;
                break;
            }
        }
    }
    // acquire: pairs with the child's release of m_child_done, so m_child_sum is its final value.
    while (ok && ctl->m_child_done.load(std::memory_order_acquire) == 0) {
        cpu_relax();
        if (++idle % k_liveness_stride == 0 && (child.exited() || clock_type::now() > deadline)) {
            ok = false;
        }
    }
    const auto t1 = clock_type::now();
    const int code = child.join(10s);
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    const bool sum_ok = ok && ctl->m_child_sum.load(std::memory_order_relaxed) == items * (items + 1) / 2;
    return {ok ? static_cast<double>(items) / secs : 0.0, sum_ok, code};
}

TEST(SpscRing, MeasureRoundTripAndThroughput)
{
    // Pin parent and child to different CPUs when there are at least two, so the spin-based probes
    // don't measure the scheduler. The parent's original mask is restored afterwards.
    cpu_set_t original;
    CPU_ZERO(&original);
    const bool have_mask = ::sched_getaffinity(0, sizeof(original), &original) == 0;
    const cpu_set_t* allowed = have_mask && CPU_COUNT(&original) >= 2 ? &original : nullptr;
    if (allowed != nullptr) {
        (void)pin_to(*allowed, 0);
    }
    struct restore_mask {
        const cpu_set_t* mask;
        ~restore_mask()
        {
            if (mask != nullptr) {
                (void)::sched_setaffinity(0, sizeof(*mask), mask);
            }
        }
    } restore{allowed};

    std::printf("[ measure  ] cpus in mask: %d, pinned: %s%s\n", have_mask ? CPU_COUNT(&original) : -1, allowed ? "yes" : "no",
                k_probe_divisor != 1 ? " (sanitizer build: reduced counts, numbers not meaningful)" : "");
    for (const auto& [mode, full_rounds] : {std::pair{wait_mode::spin, std::size_t{200'000}}, std::pair{wait_mode::spin_then_block, std::size_t{200'000}},
                                            std::pair{wait_mode::block, std::size_t{20'000}}}) {
        const std::size_t rounds = full_rounds / k_probe_divisor;
        const ping_result r = ping_pong(mode, rounds, allowed);
        EXPECT_EQ(r.child_code, 0) << name_of(mode);
        std::printf("[ measure  ] round trip, %-26s %7zu rounds: median %8.0f ns, p99 %8.0f ns, mean %8.0f ns\n", name_of(mode), rounds,
                    r.median_ns, r.p99_ns, r.mean_ns);
    }
    constexpr std::uint64_t k_items = 20'000'000 / k_probe_divisor;
    for (const bool batch : {true, false}) {
        const throughput_result r = one_way(k_items, batch, allowed);
        EXPECT_EQ(r.child_code, 0);
        EXPECT_TRUE(r.sum_ok);
        std::printf("[ measure  ] one-way uint64, try_push -> %-9s %llu items: %8.1f M items/s\n", batch ? "pop_some" : "try_pop",
                    static_cast<unsigned long long>(k_items), r.items_per_s / 1e6);
    }
    std::fflush(stdout);
}

} // namespace
