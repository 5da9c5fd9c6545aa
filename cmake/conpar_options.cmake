# Warnings, sanitizers and build facts as INTERFACE targets, so every target opts in the same way.
add_library(conpar_warnings INTERFACE)
target_compile_options(conpar_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                                 -Wno-sign-conversion)

set(CONPAR_SANITIZE "" CACHE STRING "Sanitizers to build with: '', 'address,undefined' or 'thread'")
add_library(conpar_sanitizers INTERFACE)
if(CONPAR_SANITIZE)
  target_compile_options(conpar_sanitizers INTERFACE -fsanitize=${CONPAR_SANITIZE} -fno-omit-frame-pointer
                                                     -fno-sanitize-recover=all)
  target_link_options(conpar_sanitizers INTERFACE -fsanitize=${CONPAR_SANITIZE})
endif()

add_library(conpar_options INTERFACE)
target_compile_features(conpar_options INTERFACE cxx_std_20)
target_include_directories(conpar_options INTERFACE ${PROJECT_SOURCE_DIR})
target_link_libraries(conpar_options INTERFACE conpar_warnings conpar_sanitizers)
# Asio is header-only; BOOST_ASIO_NO_DEPRECATED keeps us on the current API.
target_compile_definitions(conpar_options INTERFACE BOOST_ASIO_NO_DEPRECATED)

option(CONPAR_GATE "ctest -L bench ends with the regression gate against the committed baseline" OFF)
set(CONPAR_GATE_BASELINES "${PROJECT_SOURCE_DIR}/results/baselines" CACHE PATH
    "folder of baselines, one subfolder per machine class (conpar baseline record)")
# The gate's --threshold rules, ;-separated ([REGEX:]METRIC=PCT each; empty: conpar compare's default 5%).
# README "Comparing runs" has the setting measured on a 2-core VM: all=3;p99=15;sleep/.*:all=10.
set(CONPAR_GATE_THRESHOLDS "" CACHE STRING "bench_gate's --threshold rules, ;-separated")

# Every test of the calling directory runs inside the leak census fixture (see the top-level CMakeLists.txt).
# CMake 3.25 sets test properties only in the directory that added the test, hence one call per directory.
function(conpar_require_leak_census)
  get_property(here DIRECTORY PROPERTY TESTS)
  if(here)
    set_property(TEST ${here} APPEND PROPERTY FIXTURES_REQUIRED leak_census)
  endif()
endfunction()

# A GoogleTest binary as one CTest test per case, named PREFIX.Suite.Case, so that `ctest -R`, `ctest -j` and
# `--output-junit` see every case. PRE_TEST lists the cases when ctest starts rather than at build time, so a
# preset that builds only some binaries (tsan) still configures. LABEL is optional: a test without one runs
# only when named (`ctest -R procs_soak`).
include(GoogleTest)
function(conpar_gtest target prefix timeout)
  set(properties TIMEOUT ${timeout} FIXTURES_REQUIRED leak_census)
  if(ARGC GREATER 3)
    list(APPEND properties LABELS ${ARGV3})
  endif()
  gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST TEST_PREFIX "${prefix}." PROPERTIES ${properties})
endfunction()
