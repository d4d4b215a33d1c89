"""PBS (and the Torque-style wrappers) for the batch watcher: qsub, one ``qstat -x -f`` for all jobs per interval.

How a job ended, as job_runner v4.0 reads it: the server's ``Exit_status`` where it reports
one (PBS Pro/OpenPBS keep finished jobs for ``qstat -x``; Torque shows ``exit_status`` for
completed jobs): 0 completed, 271 (killed by SIGTERM: the walltime) TIMEOUT, -11/-12
(killed, cancelled) CANCELLED — both "graceful" ends —, anything else FAILED.

Slurm's Torque wrappers (``slurm-wlm-torque``) have no ``-x`` and no exit status: then the
exit-code file the job script writes decides. A job the scheduler killed — no file (the
wrapper was killed too) or 143 (the script died of the scheduler's SIGTERM, as a walltime
kill and a ``qdel`` both do) — ends as v4.0 ends a kill: TIMEOUT when it had run its whole
walltime, else CANCELLED.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from workflow_runner.actions.job_runner.states import Final, Tracked

GRACEFUL_EXIT = {271: "TIMEOUT", -11: "CANCELLED", -12: "CANCELLED"}
"""v4.0's table of server exit statuses that end 'gracefully' (271 = 256 + SIGTERM: the walltime)."""
KILLED_BY_TERM = 143
"""128 + SIGTERM: what the job script records when the scheduler's walltime kill or qdel ends it."""
KILLED_AFTER_DELAY = 265
"""256 + SIGKILL: the server's status when the job outlived the walltime kill's grace (kill_delay)."""
NO_HISTORY = "@@wfrun:qstat-no-x"


def seconds(text: str) -> int | None:
    """``[[HH:]MM:]SS`` (qstat's walltimes) → seconds."""
    try:
        total = 0
        for part in text.strip().split(":"):
            total = total * 60 + int(part)
        return total
    except ValueError:
        return None


class PBSBackend:
    kind = "pbs"
    submit_name = "qsub"

    def __init__(self) -> None:
        self.history: bool | None = None
        """Whether qstat takes ``-x`` (finished jobs with their exit status); None until the first query says."""
        self.details: dict[str, dict[str, int]] = {}
        """Job id → what qstat -f reported beyond the state: exit_status, walltime (limit) and used, in seconds."""

    def submit(self, spec: Any, job_name: str, rundir: str, out_file: str, signal: tuple[str, int] | None = None) -> str:
        q = shlex.quote
        args = ["qsub", "-N", q(job_name), "-o", q(out_file), "-j", "oe"]
        for opt, value in spec.pbs.items():
            if opt.startswith("-l "):
                args += ["-l", q(opt[3:] + value)]
            else:
                args += [opt, q(value)]
        return " ".join(args + ["run.sh"])

    def directives(self, spec: Any) -> list[str]:
        return list(spec.directives)

    def status_query(self, ids: list[str]) -> str:
        # qstat exits 153 (PBSE_UNKJOBID) when an id is unknown — a job that ended and left
        # the server — but still prints the others. Any other failure (the server cannot
        # be reached: Slurm's wrapper says "Problem loading jobs." and exits 8) is an outage,
        # not "every job is gone": the query fails and the watcher backs off.
        #
        # -x keeps finished jobs (and their Exit_status) in PBS Pro's answer. Slurm's wrappers
        # reject it ("Unknown option: x") and Torque's means XML by it: then the same command
        # asks again without it, says so, and later queries leave it out.
        listed = " ".join(ids)
        ok = '[ "$c" -eq 0 ] || [ "$c" -eq 153 ]'
        if self.history is False:
            return f"qstat -f {listed} 2>&1; c=$?; {ok}"
        return (f'out=$(qstat -x -f {listed} 2>&1); c=$?\n'
                f'case "$out" in *"nknown option"*|*"llegal option"*|*"nvalid option"*|"<"*|*"<Data>"*|*"<?xml"*)\n'
                f'  echo "{NO_HISTORY}"; qstat -f {listed} 2>&1; c=$? ;;\n'
                f'*) [ -z "$out" ] || printf "%s\\n" "$out" ;;\nesac\n{ok}')

    def parse_status(self, lines: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list[tuple[str, str, str]]] = {}
        current = None
        if any(line.strip() == NO_HISTORY for line in lines):
            self.history = False
        for line in lines:
            text = line.strip()
            key, _, value = (part.strip() for part in text.partition("="))
            if text.startswith("Job Id:"):
                current = text.split(":", 1)[1].strip().split(".")[0]
                out[current] = [(current, "Q", "")]
                self.details[current] = {}
                if self.history is None:
                    self.history = True
            elif not current:
                continue
            elif key == "job_state":
                out[current] = [(current, value, out[current][0][2])]
            elif key == "exec_host":
                out[current] = [(current, out[current][0][1], value.split("/")[0].split("+")[0])]
            elif key.lower() == "exit_status":
                try:
                    self.details[current]["exit_status"] = int(value)
                except ValueError:
                    pass
            elif key in ("Resource_List.walltime", "resources_used.walltime"):
                found = seconds(value)
                if found is not None:
                    self.details[current]["walltime" if key.startswith("Resource") else "used"] = found
        return out

    def final_query(self, ids: list[str]) -> str | None:
        return None  # PBS final state comes from the exit-code files

    def parse_final(self, lines: list[str]) -> dict:
        return {}

    def cancel(self, ids: list[str]) -> str:
        return "qdel " + " ".join(ids)

    def find_query(self, name: str) -> str:
        return "qstat -f"

    def parse_find(self, lines: list[str], name: str) -> str | None:
        current = None
        for line in lines:
            text = line.strip()
            if text.startswith("Job Id:"):
                current = text.split(":", 1)[1].strip().split(".")[0]
            elif current and text.startswith("Job_Name") and text.split("=", 1)[1].strip() == name:
                return current
        return None

    def is_running(self, state: str) -> bool:
        """R running, E exiting after having run."""
        return state in ("R", "E")

    def is_active(self, state: str) -> bool:
        return state not in ("C", "F", "X")

    def decide(self, tracked: Tracked, queue: list, finals: list, codes: dict[str, int]) -> Final | None:
        """The server's exit status where it reports one, else the exit-code file (see the module doc)."""
        info = self.details.pop(tracked.jobid, {})
        server = info.get("exit_status")
        if server is not None:
            # wfrun's run.sh traps SIGTERM, passes it on and exits 128+15 itself: the server then reports 143
            # (and 256+9 when the kill_delay's SIGKILL follows), where v4.0's table expects 271.
            kill = "TIMEOUT" if server in (KILLED_BY_TERM, KILLED_AFTER_DELAY) else None
            state = GRACEFUL_EXIT.get(server) or kill or ("COMPLETED" if server == 0 else "FAILED")
            if state == "TIMEOUT" and not self.reached_walltime(tracked, info, default=True):
                state = "CANCELLED"  # 271 before the walltime: a qdel's SIGTERM
            return Final(state, server, tracked.node, detail="Exit_status from qstat")
        code = codes.get(tracked.exit_file)
        if code is not None and code != KILLED_BY_TERM:
            return Final("COMPLETED" if code == 0 else "FAILED", code, tracked.node,
                         detail="from the job's exit-code file; qstat reports no exit status")
        how = "killed before it could record an exit code" if code is None else f"its script died of SIGTERM (exit {code})"
        if self.reached_walltime(tracked, info, default=False):
            return Final("TIMEOUT", code, tracked.node, detail=f"qstat reports no exit status; {how} after running its whole walltime")
        return Final("CANCELLED", code, tracked.node, detail=f"qstat reports no exit status; {how} before its walltime (qdel)")

    def reached_walltime(self, tracked: Tracked, info: dict[str, int], default: bool) -> bool:
        """Did the job run its whole walltime? The server's resources_used, else how long the watcher saw it run."""
        limit = info.get("walltime")
        if not limit:
            return default
        if "used" in info:
            return info["used"] >= limit
        if tracked.running_since is None:
            return default
        return time.monotonic() - tracked.running_since >= limit
