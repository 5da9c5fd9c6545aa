#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "workloads/blocking_steps.hpp"
#include "workloads/kernel.hpp"
#include "workloads/memory.hpp"
#include "workloads/workload.hpp"

using namespace conpar::workloads;

namespace {
const calibration k_memory_cal{300.0};

workload_spec memory_spec(double array_mib, double slice_kib) {
  return make_spec(*find_workload("memory"), {{"array_mib", array_mib}, {"slice_kib", slice_kib}}, k_memory_cal);
}
}  // namespace

TEST(Memory, ShapeSurvivesTheStepArgument) {
  const stream_shape s{4096, 64};
  const auto back = stream_shape::unpack(s.pack());
  EXPECT_EQ(back.array_kib, 4096u);
  EXPECT_EQ(back.slice_kib, 64u);
  EXPECT_EQ(s.slices(), 64u);
  EXPECT_EQ(s.slice_words(), 64u * 1024 / 8);
}

TEST(Memory, EachSliceSumIsWhatReadingItGives) {
  const stream_shape shape{1024, 64};
  const memory_array& a = memory_array_of(shape);
  EXPECT_EQ(&a, &memory_array_of(shape)) << "one array per shape and process";
  for (std::size_t i = 0; i < shape.slices(); ++i) EXPECT_EQ(stream_sum(a.slice(i), shape.slice_words()), a.slice_sum(i));
  EXPECT_NE(a.slice_sum(0), a.slice_sum(1));
  const memory_array again(shape);  // made afresh: the words are a fixed function of their index
  EXPECT_EQ(again.slice_sum(5), a.slice_sum(5));
}

TEST(Memory, ARequestStreamsItsOwnSliceAndMatchesTheReference) {
  const workload_spec spec = memory_spec(2, 64);  // 32 slices of 64 KiB
  EXPECT_EQ(spec.bytes, 64.0 * 1024);
  EXPECT_EQ(spec.prototype.steps[0].kind, step_kind::stream);
  for (const std::uint64_t id : {0u, 1u, 31u, 32u}) EXPECT_EQ(execute_blocking(spec.make(id)), expected_checksum(spec.make(id)));
  EXPECT_NE(expected_checksum(spec.make(1)), expected_checksum(spec.make(2)));
  // id 33 reads slice 1 like id 1, yet its checksum differs: the fold starts from the id.
  EXPECT_NE(expected_checksum(spec.make(33)), expected_checksum(spec.make(1)));
}

TEST(Memory, AForkedProcessReadsTheSameArray) {
  const stream_shape shape{2048, 256};
  const memory_array& a = memory_array_of(shape);  // made here, as the harness makes it before its workers fork
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const memory_array& mine = memory_array_of(shape);
    const bool same = &mine == &a && stream_sum(mine.slice(3), shape.slice_words()) == a.slice_sum(3);
    ::_exit(same ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(Memory, ASliceLargerThanTheArrayIsRejectedByName) {
  try {
    (void)memory_spec(1, 2048);
    FAIL() << "a 2 MiB slice of a 1 MiB array was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("slice_kib=2048"), std::string::npos) << e.what();
  }
}
