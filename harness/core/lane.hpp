// The lane every runner runs, written once: claim the next request, wait until it is due, execute it, complete it.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "harness/core/load_driver.hpp"

namespace conpar::harness {

// A request a lane has issued and not completed.
struct lane_entry {
  std::uint64_t id = 0;
  clock::time_point due;
};

// What a lane holds: ids claimed and not yet issued, requests issued and not completed, and the completion being
// recorded. Kept where the lane's owner can read it after the lane's process died (procs: shared memory), so a
// dead worker's requests are known: lost() lists them.
struct lane_record {
  std::uint64_t block_next = 0, block_end = 0;  // claimed, not issued: [block_next, block_end)
  std::uint64_t head = 0, tail = 0;             // issued, not completed: ring positions [head, tail)
  // A completion is recorded in three steps (undo values, stats, head); `committing` is head + 1 during them, so
  // an owner that finds the lane dead mid-way restores the stats' count and fold and counts the request lost.
  std::uint64_t committing = 0;
  std::uint64_t undo_completed = 0, undo_fold = 0;
};

// Ring slots for a lane of `depth` requests in flight: a power of two, so a position maps to a slot with a mask.
[[nodiscard]] inline std::size_t lane_ring_size(unsigned depth) noexcept { return std::bit_ceil(std::max(depth, 1u)); }

// One lane: up to `depth` requests in flight, taken oldest first (a blocking lane runs one at a time, so the rest
// wait in its queue and their latency counts it, as in any thread pool's queue). Ids are claimed in blocks sized
// to about k_block_time of work, so at fine grain the shared counter is not written by every request; a block
// shrinks near the window's end, and every id claimed is issued.
template <class Stats>
class lane {
 public:
  // How much work one claim should cover: long enough to amortise the shared counter's cache-line transfer
  // (~100 ns between cores), short enough that the lanes end the window together.
  static constexpr auto k_block_time = std::chrono::microseconds(10);
  static constexpr std::uint64_t k_max_block = 64;

  lane(load_state& load, unsigned depth, lane_record& record, std::span<lane_entry> ring, Stats& stats) noexcept
      : m_load(load), m_depth(depth), m_rec(record), m_ring(ring), m_mask(ring.size() - 1), m_stats(stats) {}

  // Fills the lane up to its depth at `now`, then returns the oldest request in flight; nullptr once the load
  // has ended and the lane has drained.
  [[nodiscard]] const lane_entry* next(clock::time_point now) {
    while (m_rec.tail - m_rec.head < m_depth && issue_one(now)) {
    }
    return m_rec.head == m_rec.tail ? nullptr : &m_ring[m_rec.head & m_mask];
  }

  // The start time of the oldest request, waited for if an open loop has it due later.
  [[nodiscard]] clock::time_point start(const lane_entry& e) const {
    return m_load.open ? start_when_due(m_load, e.due, clock::now()) : e.due;
  }

  [[nodiscard]] workloads::request request(const lane_entry& e) const noexcept { return m_load.make(e.id); }
  [[nodiscard]] const load_state& load() const noexcept { return m_load; }

  // Records the oldest request's completion. The signal fences keep the compiler from reordering the steps a
  // reader of a killed process's record relies on (a kill lands between instructions, as a signal does).
  void complete(clock::time_point started, clock::time_point done, std::uint64_t checksum) {
    const lane_entry& e = m_ring[m_rec.head & m_mask];
    m_rec.undo_completed = m_stats.completed;
    m_rec.undo_fold = m_stats.checksum_fold;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    m_rec.committing = m_rec.head + 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    m_stats.complete(e.due, started, done, checksum, m_load.window());
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ++m_rec.head;
    if (!m_warm) {
      m_warm = true;
      m_load.lane_warm(done);
    }
  }

 private:
  // Issues the next id of the lane's block, claiming a new block when it is used up; false when none is left.
  bool issue_one(clock::time_point now) {
    if (m_rec.block_next == m_rec.block_end && !claim(now)) return false;
    const std::uint64_t id = m_rec.block_next;
    m_ring[m_rec.tail & m_mask] = lane_entry{id, m_load.due_time(id, now)};
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ++m_rec.tail;  // issued; a reader that finds it also still in the block counts it once
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ++m_rec.block_next;
    return true;
  }

  bool claim(clock::time_point now) {
    const std::uint64_t want = std::max<std::uint64_t>(block_size(now), m_depth - (m_rec.tail - m_rec.head));
    const auto ids = m_load.claim(now, want);
    if (!ids) return false;
    m_claimed_at = now;
    m_claimed = ids->last - ids->first;
    m_rec.block_next = ids->first;  // before block_end: a reader never sees a range that is not the lane's
    std::atomic_signal_fence(std::memory_order_seq_cst);
    m_rec.block_end = ids->last;
    return true;
  }

  // An open loop takes one id at a time, so requests go to lanes in due order. A closed loop sizes the block from
  // the time the last block took, and near the window's end to what is left of it.
  [[nodiscard]] std::uint64_t block_size(clock::time_point now) const noexcept {
    if (m_load.open || m_claimed == 0) return 1;
    const auto per_request = std::max<clock::duration>((now - m_claimed_at) / m_claimed, std::chrono::nanoseconds(1));
    const auto stop = clock::time_point(clock::duration(m_load.stop_ticks.load(std::memory_order_relaxed)));
    const auto budget = stop > now ? std::min<clock::duration>(k_block_time, stop - now) : clock::duration(1);
    return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(budget / per_request), 1, k_max_block);
  }

  load_state& m_load;
  unsigned m_depth;
  lane_record& m_rec;
  std::span<lane_entry> m_ring;
  std::uint64_t m_mask;
  Stats& m_stats;
  clock::time_point m_claimed_at;
  std::uint64_t m_claimed = 0;
  bool m_warm = false;  // has completed a request: counted in load_state::warm
};

// The ids a lane that died held: issued and not completed (the one being recorded included), and claimed but not
// issued; each once. `stats` is the dead lane's, restored to its last whole completion.
template <class Stats>
[[nodiscard]] std::vector<std::uint64_t> lost_with(lane_record& rec, std::span<const lane_entry> ring, Stats& stats) {
  if (rec.committing == rec.head + 1) {  // died recording a completion: it did not happen
    stats.completed = rec.undo_completed;
    stats.checksum_fold = rec.undo_fold;
  }
  std::vector<std::uint64_t> ids;
  for (std::uint64_t p = rec.head; p != rec.tail; ++p) ids.push_back(ring[p & (ring.size() - 1)].id);
  // The newest issued id may still be at block_next if the lane died between issuing it and moving on.
  std::uint64_t from = rec.block_next;
  if (rec.tail != rec.head && from < rec.block_end && ids.back() == from) ++from;
  for (std::uint64_t id = from; id < rec.block_end; ++id) ids.push_back(id);
  return ids;
}

// A blocking lane to its end: the form seq, threads and procs run.
template <class Stats, class Execute>
void run_blocking_lane(lane<Stats>& l, Execute execute) {
  auto now = clock::now();
  while (const lane_entry* e = l.next(now)) {
    const auto started = l.start(*e);
    const std::uint64_t checksum = execute(l.request(*e));
    now = clock::now();
    l.complete(started, now, checksum);
  }
}

// A lane with its record and ring in this process's memory (seq, threads, coro).
template <class Stats>
struct local_lane {
  lane_record record;
  std::vector<lane_entry> ring;
  lane<Stats> run;
  local_lane(load_state& load, unsigned depth, Stats& stats)
      : ring(lane_ring_size(depth)), run(load, depth, record, ring, stats) {}
};

}  // namespace conpar::harness
