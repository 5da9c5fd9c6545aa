#include "runners/registry.hpp"

namespace conpar::runners {

std::vector<std::unique_ptr<runner>> make_runners() {
  std::vector<std::unique_ptr<runner>> all;
  all.push_back(make_seq_runner());
  all.push_back(make_coro_runner());
  all.push_back(make_threads_runner());
  all.push_back(make_procs_runner());
  return all;
}

}  // namespace conpar::runners
