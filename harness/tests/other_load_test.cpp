#include "harness/other_load.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <sys/wait.h>
#include <unistd.h>

namespace conpar::harness {
namespace {

TEST(OtherLoad, ParsesAStatLineWhoseCommandHoldsSpacesAndParentheses) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  const stat_fields f = parse_proc_stat("4242 (a b) c)) S 17 1 1 0 -1 4194560 10 0 0 0 300 40 5 2 20 0 1 0");
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.pid, 4242);
  EXPECT_EQ(f.ppid, 17);
  EXPECT_EQ(f.ticks, 347u);
  EXPECT_FALSE(parse_proc_stat("4242 no parenthesis").ok);
  EXPECT_FALSE(parse_proc_stat("4242 (short) S 17 1").ok);
}

// Spins until this process has used d of CPU (not of wall time: the machine may be shared).
void spin_for(std::chrono::milliseconds d) {
  const auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  const auto until = cpu_now() + d;
  volatile unsigned x = 0;
  while (cpu_now() < until) x = x + 1;
}

TEST(OtherLoad, WorkOfThisProcessAndItsChildrenIsOursNotOther) {
  const cpu_sample before = sample_cpu();
  const pid_t child = fork();
  if (child == 0) {
    spin_for(std::chrono::milliseconds(300));
    _exit(0);
  }
  ASSERT_GT(child, 0);
  spin_for(std::chrono::milliseconds(300));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const cpu_sample after = sample_cpu();
  // 0.6 s of CPU in this tree, less the ticks' rounding (10 ms per process and field).
  EXPECT_GT(after.tree_s - before.tree_s, 0.5);
  EXPECT_GE(after.machine_busy_s - before.machine_busy_s, after.tree_s - before.tree_s - 0.1);
}

TEST(OtherLoad, TheMachinesCpuOutsideTheTreeIsAveragedOverTheWall) {
  const cpu_sample before{.machine_busy_s = 100, .steal_s = 10, .tree_s = 50, .wall_s = 1000};
  const cpu_sample after{.machine_busy_s = 130, .steal_s = 11, .tree_s = 70, .wall_s = 1010};
  const other_load o = other_load_between(before, after, 2);
  EXPECT_DOUBLE_EQ(o.other_busy_cores, 1.0);  // (30 - 20) s over 10 s
  EXPECT_DOUBLE_EQ(o.steal_fraction, 0.05);    // 1 s of 20 core-seconds
  const cpu_sample rounded{.machine_busy_s = 119, .steal_s = 10, .tree_s = 70, .wall_s = 1010};
  EXPECT_EQ(other_load_between(before, rounded, 2).other_busy_cores, 0.0);  // tick rounding, never negative
}

}  // namespace
}  // namespace conpar::harness
