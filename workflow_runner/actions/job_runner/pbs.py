"""PBS (and the Torque-style wrappers) for the batch watcher: qsub, one ``qstat -f`` for all jobs per interval."""

from __future__ import annotations

import shlex
from typing import Any

from workflow_runner.actions.job_runner.states import Final, Tracked


class PBSBackend:
    kind = "pbs"
    submit_name = "qsub"

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
        return "qstat -f " + " ".join(ids) + ' 2>&1; c=$?; [ "$c" -eq 0 ] || [ "$c" -eq 153 ]'

    def parse_status(self, lines: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list[tuple[str, str, str]]] = {}
        current = None
        for line in lines:
            text = line.strip()
            if text.startswith("Job Id:"):
                current = text.split(":", 1)[1].strip().split(".")[0]
                out[current] = [(current, "Q", "")]
            elif current and text.startswith("job_state"):
                state = text.split("=", 1)[1].strip()
                out[current] = [(current, state, out[current][0][2])]
            elif current and text.startswith("exec_host"):
                node = text.split("=", 1)[1].strip().split("/")[0]
                out[current] = [(current, out[current][0][1], node)]
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
        return state in ("R", "E")

    def is_active(self, state: str) -> bool:
        return state not in ("C", "F", "X")

    def decide(self, tracked: Tracked, queue: list, finals: list, codes: dict[str, int]) -> Final | None:
        code = codes.get(tracked.exit_file)
        if code is None:
            # qstat says done (or forgot the job) but the script recorded nothing: killed
            # (walltime, qdel, node failure). Give the file system a moment first.
            if tracked.last_state in ("C", "F") or not queue:
                return Final("ENDED_WITHOUT_EXIT_CODE", None, tracked.node)
            return None
        return Final("COMPLETED" if code == 0 else "FAILED", code, tracked.node)
