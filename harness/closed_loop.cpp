#include "harness/closed_loop.hpp"

namespace conpar::harness {

load_window load_window::starting_now(clock::duration warmup, clock::duration measure) noexcept {
  const auto start = clock::now();
  return load_window{start, start + warmup, start + warmup + measure};
}

}  // namespace conpar::harness
