"""Durations: every form users write, ISO 8601 as torc writes it (issue 13), and the scheduler clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_runner.actions.job_runner import resolve_spec
from workflow_runner.engine.durations import clock, iso_seconds, parse_duration
from workflow_runner.errors import InputError
from workflow_runner.validate import load_workflow

ROOT = Path(__file__).resolve().parents[2]
V4 = load_workflow(ROOT / "marketplace" / "job_runner" / "v4.0.yaml")


@pytest.mark.parametrize("text, seconds", [
    ("PT4H", 4 * 3600), ("PT30M", 1800), ("P1DT2H", 26 * 3600), ("PT1H30M15S", 5415), ("P2W", 14 * 86400),
    ("pt1.5h", 5400), ("PT0,5S", 0.5), ("P1D", 86400),
    ("1-01:00:00", 90000), ("1-12:00", 129600), ("01:00:00", 3600), ("1:30", 90), ("5m", 300), ("1h30m", 5400), (90, 90),
])
def test_accepted(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, message", [
    ("P", "is not a duration"), ("PT", "is not a duration"), ("P1DT", "is not a duration"), ("PT4X", "is not a duration"),
    ("PT4H30", "is not a duration"), ("P1Y", "years and months have no fixed length"), ("P1M", "years and months"),
    ("1:2:3:4", "is not a duration"), ("5x", "is not a duration"),
])
def test_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_clock():
    assert clock(93784.2, days=True) == "1-02:03:05"
    assert clock(93784, days=False) == "26:03:04"
    assert clock(iso_seconds("PT1.1H"), days=False) == "01:06:00"  # 3960.0000000000005 in floats
    assert clock(iso_seconds("P1.1D"), days=True) == "1-02:24:00"


def test_job_runner_walltimes_take_iso_and_become_the_schedulers_clock():
    slurm = resolve_spec(V4, "v4.0", {"resource": {"ip": "h", "schedulerType": "slurm"}, "scheduler": True,
                                      "slurm": {"time": "P1DT2H"}}, None)
    assert slurm.slurm["--time"] == "1-02:00:00"
    pbs = resolve_spec(V4, "v4.0", {"resource": {"ip": "h", "schedulerType": "pbs"}, "scheduler": True,
                                    "pbs": {"walltime": "PT4H"}}, None)
    assert pbs.pbs["-l walltime="] == "04:00:00"
    with pytest.raises(InputError, match="slurm.time: 'P1M': ISO years and months"):
        resolve_spec(V4, "v4.0", {"resource": {"ip": "h", "schedulerType": "slurm"}, "scheduler": True,
                                  "slurm": {"time": "P1M"}}, None)
