// Factories of the built-in runners, named in one place so registry.cpp lists them all.
#pragma once

#include <memory>

#include "runners/runner.hpp"

namespace conpar::runners {

[[nodiscard]] std::unique_ptr<runner> make_seq_runner();
[[nodiscard]] std::unique_ptr<runner> make_coro_runner();
[[nodiscard]] std::unique_ptr<runner> make_threads_runner();
[[nodiscard]] std::unique_ptr<runner> make_procs_runner();

}  // namespace conpar::runners
