"""SLURM for the batch watcher: sbatch, one ``squeue`` for all jobs per interval, ``sacct`` for final states."""

from __future__ import annotations

import shlex
from typing import Any

from workflow_runner.actions.job_runner.states import SLURM_ACTIVE, SLURM_FAILURE, SLURM_GRACEFUL, Final, Tracked

class SlurmBackend:
    kind = "slurm"
    submit_name = "sbatch"

    def submit(self, spec: Any, job_name: str, rundir: str, out_file: str, signal: tuple[str, int] | None = None) -> str:
        q = shlex.quote
        args = ["sbatch", "--parsable", f"--job-name={q(job_name)}", f"--chdir={q(rundir)}",
                f"--output={q(out_file)}", f"--error={q(out_file)}"]
        if signal is not None:  # the scheduler's own graceful-termination mechanism
            args.append(f"--signal=B:{signal[0]}@{signal[1]}")
        if "--array" in spec.slurm:
            args.append("--open-mode=append")
        return " ".join(args + ["run.sh"])

    def directives(self, spec: Any) -> list[str]:
        return [f"#SBATCH {opt}={value}" for opt, value in spec.slurm.items()] + list(spec.directives)

    def status_query(self, ids: list[str]) -> str:
        return f"squeue -h -r -t all -j {','.join(ids)} -o '%i|%T|%N|%r'"

    def parse_status(self, lines: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        """jobid → [(task id, state, node)] (one entry for a plain job); reasons go to self.reasons."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        self.reasons: dict[str, str] = {}
        for line in lines:
            parts = line.strip().split("|")
            if len(parts) < 2 or not parts[0]:
                continue
            task, state = parts[0], parts[1].split()[0]
            node = parts[2] if len(parts) > 2 else ""
            jobid = task.split("_")[0]
            out.setdefault(jobid, []).append((task, state, node))
            if len(parts) > 3 and parts[3] not in ("None", ""):
                self.reasons.setdefault(jobid, parts[3])
        return out

    def final_query(self, ids: list[str]) -> str:
        return f"sacct -X -n -P -j {','.join(ids)} -o JobID,State,ExitCode,NodeList"

    def parse_final(self, lines: list[str]) -> dict[str, list[tuple[str, str, int | None, str]]]:
        out: dict[str, list[tuple[str, str, int | None, str]]] = {}
        for line in lines:
            parts = line.strip().split("|")
            if len(parts) < 3 or not parts[0]:
                continue
            task, state = parts[0], parts[1].split()[0]
            code: int | None
            try:
                code = int(parts[2].split(":")[0])
            except ValueError:
                code = None
            out.setdefault(task.split("_")[0].split(".")[0], []).append((task, state, code, parts[3] if len(parts) > 3 else ""))
        return out

    def cancel(self, ids: list[str]) -> str:
        return "scancel " + " ".join(ids)

    def find_query(self, name: str) -> str:
        """Ids of jobs with this (unique) name, queued or finished: for re-attaching after a crash.

        Exits non-zero when squeue cannot ask the controller ("not found" and "could not
        tell" differ); sacct (older jobs, needs slurmdbd) is a best-effort extra.
        """
        q = shlex.quote(name)
        return f"squeue -h -t all --name={q} -o '%i' && {{ sacct -X -n -P --name={q} -S now-7days -o JobID 2>/dev/null; true; }}"

    def parse_find(self, lines: list[str], name: str) -> str | None:
        ids = [line.strip().split("_")[0] for line in lines if line.strip() and line.strip().split("_")[0].isdigit()]
        return ids[-1] if ids else None

    def is_running(self, state: str) -> bool:
        return state == "RUNNING"

    def is_active(self, state: str) -> bool:
        return state in SLURM_ACTIVE

    def decide(self, tracked: Tracked, queue: list, sacct: list, codes: dict[str, int]) -> Final | None:
        """How a job squeue no longer shows active ended, or None to ask again next interval.

        sacct decides (its State and ExitCode); the exit-code file the job script wrote is
        more precise for COMPLETED/FAILED, and decides alone when sacct has nothing.
        """
        if tracked.array:
            return self.decide_array(tracked, queue, sacct, codes)
        record = next(((s, c, n) for t, s, c, n in sacct if t == tracked.jobid), None)
        if record is not None and self.is_active(record[0]):
            record = None  # sacct lags squeue: it may still say RUNNING for a job squeue saw end
        file_code = codes.get(tracked.exit_file)
        if record is not None:
            state, code, node = record
            if file_code is not None and state in ("COMPLETED", "FAILED"):
                code = file_code
            return Final(state, code, node or tracked.node)
        queue_state = queue[0][1] if queue else None
        if queue_state and not self.is_active(queue_state) and queue_state in SLURM_FAILURE | SLURM_GRACEFUL | {"COMPLETED"}:
            return Final(queue_state, file_code if file_code is not None else (0 if queue_state == "COMPLETED" else None), tracked.node)
        if file_code is not None:
            return Final("COMPLETED" if file_code == 0 else "FAILED", file_code, tracked.node)
        return None

    def decide_array(self, tracked: Tracked, queue: list, sacct: list, codes: dict[str, int]) -> Final | None:
        tasks: dict[str, tuple[str, int | None]] = {}
        for task, state, code, _node in sacct:
            if "_" in task and "[" not in task:
                tasks[task] = (state, codes.get(f"{tracked.exit_file}.{task.split('_', 1)[1]}", code))
        for task, state, _node in queue:
            if "_" in task and "[" not in task:
                tasks.setdefault(task, (state, codes.get(f"{tracked.exit_file}.{task.split('_', 1)[1]}")))
        if not tasks or any(self.is_active(s) for s, _ in tasks.values()):
            return None  # sacct has not caught up with every task yet
        bad = [t for t, (s, c) in tasks.items() if s != "COMPLETED" or c not in (0, None)]
        state = "COMPLETED" if not bad else tasks[bad[0]][0]
        return Final(state, 0 if not bad else tasks[bad[0]][1], tracked.node, tasks)
