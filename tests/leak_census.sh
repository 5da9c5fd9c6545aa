#!/usr/bin/env bash
# Counts what a test run could leak: live processes started from this build tree (conpar, the test
# binaries, their forkserver and workers), zombies, and /dev/shm entries. CTest runs `start` before the
# first test and `end` after the last (a fixture); `end` fails when anything grew, and names it.
# Usage: leak_census.sh start|end BUILD_DIR STATE_FILE
set -uo pipefail
mode=$1 build=$(realpath "$2") state=$3

ours() {  # pids whose executable lies under the build tree, this script's own ancestors excluded
  for d in /proc/[0-9]*; do
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    case $exe in "$build"/*) echo "${d#/proc/} $exe" ;; esac
  done
}
zombies() { cat /proc/[0-9]*/status 2>/dev/null | grep -c '^State:[[:space:]]*Z' || true; }
shm() { ls -1A /dev/shm 2>/dev/null | sort; }

if [ "$mode" = start ]; then
  { echo "processes $(ours | wc -l)"; echo "zombies $(zombies)"; shm | sed 's/^/shm /'; } >"$state"
  echo "leak census before the tests: $(ours | wc -l) processes from this build, $(zombies) zombies, $(shm | wc -l) /dev/shm entries"
  exit 0
fi

sleep 0.2  # a process killed by the last test may take a moment to be reaped
before_procs=$(awk '$1=="processes"{print $2}' "$state")
before_zombies=$(awk '$1=="zombies"{print $2}' "$state")
procs=$(ours | wc -l) zomb=$(zombies)
new_shm=$(comm -13 <(awk '$1=="shm"{print $2}' "$state" | sort) <(shm))
echo "leak census before the tests: $before_procs processes from this build, $before_zombies zombies, $(awk '$1=="shm"' "$state" | wc -l) /dev/shm entries"
echo "leak census after the tests:  $procs processes from this build, $zomb zombies, $(shm | wc -l) /dev/shm entries"
status=0
if [ "$procs" -gt "$before_procs" ]; then echo "LEAK: processes still running:"; ours; status=1; fi
if [ "$zomb" -gt "$before_zombies" ]; then echo "LEAK: $((zomb - before_zombies)) new zombies"; status=1; fi
if [ -n "$new_shm" ]; then echo "LEAK: new /dev/shm entries: $new_shm"; status=1; fi
exit $status
