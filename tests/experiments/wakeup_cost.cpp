// What one wake-up costs between threads of a process and between processes: a token passed around a ring of N
// players through futex doorbells in shared memory (the procs runner's primitive), each player blocking (no
// spinning) until the one before it rings. It is the figure behind the procs verdicts that differ from threads: a
// switch to another process changes address spaces (here, page tables the hypervisor shadows), a switch to
// another thread does not; with many players, every switch lands on cold page tables.
//
//   build/release/tests/wakeup_cost [passes] [players...]      (default 20000 passes; 2 10 100 1000 players)
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "runners/doorbell.hpp"

namespace {

using conpar::runners::doorbell;
using namespace std::chrono_literals;

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);  // a forked player is single-threaded: its process
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct player_slot {
  doorbell bell;
  double cpu_s = 0;  // the player's CPU time while the token went round (start-up and fork excluded)
};

struct ring_of_players {
  std::atomic<std::uint64_t> token{0};  // pass k is player k mod N's turn
  std::atomic<unsigned> ready{0};       // players waiting for the first pass: the clock starts when all are
  player_slot players[1];               // one per player (the mapping holds N)
};

void player(ring_of_players& r, unsigned me, unsigned n, std::uint64_t passes) {
  const double cpu0 = thread_cpu_seconds();
  r.ready.fetch_add(1, std::memory_order_acq_rel);
  for (std::uint64_t turn = me; turn < passes; turn += n) {
    doorbell& bell = r.players[me].bell;
    while (r.token.load(std::memory_order_acquire) != turn) {
      const auto seen = bell.prepare();
      if (r.token.load(std::memory_order_acquire) == turn) break;
      bell.wait(seen, 100ms);
    }
    r.token.store(turn + 1, std::memory_order_release);
    r.players[(me + 1) % n].bell.ring();
  }
  r.players[me].cpu_s = thread_cpu_seconds() - cpu0;
}

// Passes the token `passes` times around n players (processes or threads); prints the cost per pass.
void measure(bool processes, unsigned n, std::uint64_t passes) {
  const std::size_t bytes = sizeof(ring_of_players) + sizeof(player_slot) * n;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) std::exit(1);
  auto* r = new (mem) ring_of_players;
  for (unsigned i = 1; i < n; ++i) new (&r->players[i]) player_slot;
  std::vector<pid_t> children;
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) {
    if (!processes) {
      threads.emplace_back([=] { player(*r, i, n, passes); });
      continue;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      player(*r, i, n, passes);
      _exit(0);
    }
    children.push_back(pid);
  }
  while (r->ready.load(std::memory_order_acquire) != n - 1) std::this_thread::sleep_for(1ms);
  const auto t0 = std::chrono::steady_clock::now();
  player(*r, 0, n, passes);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& t : threads) t.join();
  for (const pid_t pid : children) waitpid(pid, nullptr, 0);
  double cpu = 0;
  for (unsigned i = 0; i < n; ++i) cpu += r->players[i].cpu_s;
  std::printf("%-9s x %4u: %7.2f us per wake-up, %7.2f us of CPU per wake-up\n", processes ? "processes" : "threads", n,
              wall * 1e6 / static_cast<double>(passes), cpu * 1e6 / static_cast<double>(passes));
  munmap(mem, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t passes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  std::vector<unsigned> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(static_cast<unsigned>(std::strtoul(argv[i], nullptr, 10)));
  if (sizes.empty()) sizes = {2, 10, 100, 1000};
  for (const unsigned n : sizes) measure(true, n, passes);  // every fork() before the first thread
  for (const unsigned n : sizes) measure(false, n, passes);
  return 0;
}
