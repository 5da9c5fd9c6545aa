"""The report says the machine was busy with other work only when other processes or the hypervisor took
CPU time (other_busy_cores, steal_fraction), not when the suite's own threads raised the load average."""
from __future__ import annotations

import verdicts
from conftest import row, write_run
from results import load_run

CELL = row("cpu/seq/workers:1/concurrency:1/work_us:100", work_us=100.0)


def load_line(tmp_path, **ctx) -> str:
    run = load_run(write_run(tmp_path / "r.json", [CELL], cores=2, **ctx))
    return next(s for s in verdicts.general(run) if "quiet" in s or "busy" in s)


def test_a_high_load_average_of_the_suites_own_threads_is_still_quiet(tmp_path):
    line = load_line(tmp_path, load_avg_before=[1.3, 1, 1], load_avg_after=[54.9, 20, 10],
                     other_busy_cores=0.012, steal_fraction=0.0)
    assert line == ("Processes outside the suite used 0.01 of 2 cores on average during the run, and the "
                    "hypervisor took 0.0% of the CPU time: the machine was otherwise quiet.")


def test_other_processes_using_a_core_make_it_busy(tmp_path):
    line = load_line(tmp_path, load_avg_before=[0.1, 1, 1], load_avg_after=[0.2, 1, 1],
                     other_busy_cores=1.0, steal_fraction=0.0)
    assert "used 1.00 of 2 cores" in line and "busy with other work" in line


def test_steal_time_makes_it_busy(tmp_path):
    line = load_line(tmp_path, other_busy_cores=0.0, steal_fraction=0.05)
    assert "took 5.0% of the CPU time" in line and "busy with other work" in line


def test_a_file_without_the_fields_falls_back_to_the_load_average(tmp_path):
    run = load_run(write_run(tmp_path / "r.json", [CELL], cores=2, load_avg_before=[3.0, 1, 1],
                             load_avg_after=[3.0, 1, 1]))
    assert "other_busy_cores" not in run.context  # the fixture's context is from before the field
    line = next(s for s in verdicts.general(run) if "load average" in s)
    assert line.startswith("1-minute load average 3.00 before the run")
