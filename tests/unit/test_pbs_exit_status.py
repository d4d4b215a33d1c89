"""PBSBackend reads a PBS server's exit status (``qstat -x -f``) as job_runner v4.0 does.

The test cluster's Torque wrappers report none (tests/integration/test_job_runner_pbs.py
covers them for real); this is the parsing of what PBS Pro / Torque print, with the v4.0
table: 0 completed, 271 TIMEOUT (a qdel's SIGTERM before the walltime: CANCELLED),
-11/-12 CANCELLED, anything else FAILED.
"""

import asyncio

from workflow_runner.actions.job_runner.pbs import PBSBackend, seconds
from workflow_runner.actions.job_runner.states import Tracked

QSTAT_XF = """Job Id: 101.pbs-server
    Job_Name = a
    job_state = F
    exec_host = node7/0*2+node8/0*2
    Resource_List.walltime = 01:00:00
    resources_used.walltime = 00:10:00
    Exit_status = 3

Job Id: 102.pbs-server
    job_state = F
    Resource_List.walltime = 00:30:00
    resources_used.walltime = 00:30:02
    Exit_status = 271

Job Id: 103.pbs-server
    job_state = F
    Resource_List.walltime = 00:30:00
    resources_used.walltime = 00:01:00
    Exit_status = 271

Job Id: 104.pbs-server
    job_state = C
    exit_status = -11

Job Id: 105.pbs-server
    job_state = F
    Exit_status = 0

Job Id: 106.pbs-server
    job_state = C
"""


def decided(backend: PBSBackend, jobid: str, codes: dict[str, int] | None = None):
    future = asyncio.new_event_loop().create_future()
    tracked = Tracked(jobid, f"/rd/{jobid}.exit", False, future, last_state="F", node="")
    return backend.decide(tracked, [(jobid, "F", "")], [], codes or {})


def test_server_exit_status_decides_with_the_v40_table():
    backend = PBSBackend()
    states = backend.parse_status(QSTAT_XF.splitlines())
    assert backend.history is True
    assert states["101"] == [("101", "F", "node7")]
    ends = {j: decided(backend, j, {f"/rd/{j}.exit": 9}) for j in ("101", "102", "103", "104", "105")}
    assert {j: (f.state, f.exit_code) for j, f in ends.items()} == {
        "101": ("FAILED", 3),         # the server's status wins over the exit-code file
        "102": ("TIMEOUT", 271),      # ran its whole walltime
        "103": ("CANCELLED", 271),    # SIGTERM long before it: a qdel
        "104": ("CANCELLED", -11),    # Torque's lower-case exit_status
        "105": ("COMPLETED", 0),
    }
    assert decided(backend, "106", {"/rd/106.exit": 4}).state == "FAILED"  # no server status: the file


def test_wrappers_without_x_are_told_and_remembered():
    backend = PBSBackend()
    assert "qstat -x -f 7" in backend.status_query(["7"])
    backend.parse_status(["@@wfrun:qstat-no-x", "Job Id:\t7", "\tjob_state = R"])
    assert backend.history is False
    assert backend.status_query(["7"]).startswith("qstat -f 7 ")
    assert seconds("01:02:03") == 3723 and seconds("90") == 90 and seconds("x") is None


def test_a_wrapper_that_passed_sigterm_on_ends_as_v40_ends_a_walltime_kill_or_qdel():
    """run.sh traps SIGTERM and exits 143 itself, so the server reports 143 (or 265 after kill_delay), not 271."""
    backend = PBSBackend()
    backend.parse_status("""Job Id: 201.s
    job_state = F
    Resource_List.walltime = 00:30:00
    resources_used.walltime = 00:30:01
    Exit_status = 143

Job Id: 202.s
    job_state = F
    Resource_List.walltime = 00:30:00
    resources_used.walltime = 00:02:00
    Exit_status = 143

Job Id: 203.s
    job_state = F
    Resource_List.walltime = 00:30:00
    resources_used.walltime = 00:30:40
    Exit_status = 265
""".splitlines())
    assert [(f.state, f.exit_code) for f in (decided(backend, j) for j in ("201", "202", "203"))] == [
        ("TIMEOUT", 143), ("CANCELLED", 143), ("TIMEOUT", 265)]


def test_torque_xml_after_an_unknown_job_line_is_still_recognised(tmp_path):
    """Torque's -x means XML; a purged id's error line may come before it."""
    import subprocess

    qstat = tmp_path / "qstat"
    qstat.write_text('#!/bin/bash\nif [ "$1" = -x ]; then echo "qstat: Unknown Job Id 9.s"; echo "<Data><Job>'
                     '</Job></Data>"; exit 153; fi\necho "Job Id: 10.s"; echo "    job_state = R"\n')
    qstat.chmod(0o755)
    backend = PBSBackend()
    out = subprocess.run(["bash", "-c", backend.status_query(["9", "10"])], capture_output=True, text=True,
                         env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    states = backend.parse_status(out.stdout.splitlines())
    assert backend.history is False and states["10"] == [("10", "R", "")]
