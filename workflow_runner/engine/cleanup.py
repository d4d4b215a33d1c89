"""Running one step's ``cleanup:`` when its job ends: bounded by ``--cleanup-timeout``, shielded from the
cancel that ended the job, and never stopping the cleanups after it (a bug included)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from workflow_runner.engine import status as st
from workflow_runner.engine.call import scrub_local
from workflow_runner.engine.context import as_text, evaluate
from workflow_runner.engine.events import StepFinished, StepStarted
from workflow_runner.engine.placement import pw_env
from workflow_runner.engine.signals import exit_message
from workflow_runner.engine.stepcall import Placement
from workflow_runner.engine.steplog import StepLog
from workflow_runner.errors import WorkflowError
from workflow_runner.model import Step
from workflow_runner.targets.base import StepCommand


async def run_cleanup(job: Any, step: Step, place: Placement, env: dict[str, str], outputs_file: str) -> None:
    eng = job.engine
    name = f"{step.name} (cleanup)"
    log_path = eng.run_dir.step_file("logs", job.key, step.index, step.key, ".cleanup.log")
    log = StepLog(eng.shared.mask, eng.emit, job.key, name, str(log_path))
    t0 = time.monotonic()
    eng.emit(StepStarted(job.key, name, 0, place.target.name, step.index, cleanup=True))
    limit = asyncio.timeout(eng.shared.options.cleanup_timeout)
    try:
        script = as_text(evaluate(step.cleanup, job.context(env)))
        cleanup_env = {**env, **pw_env(job, place), "OUTPUTS": outputs_file}
        command = StepCommand(script=script, env=cleanup_env, cwd=place.cwd, outputs_file=outputs_file + ".cleanup",
                              grace=eng.shared.options.grace, hurry=eng.shared.hurry)
        # Shielded: the cancel that ended the job must not end its cleanup.
        task = asyncio.ensure_future(_bounded(place.target.run(command, log.line), limit))
        result = await asyncio.shield(task)
        status = st.COMPLETED if result.exit_code == 0 else st.FAILED
        message = None if result.exit_code == 0 else (result.message or exit_message(result.exit_code))
        code: int | None = result.exit_code
    except TimeoutError as exc:
        why = f"cleanup timed out after {eng.shared.options.cleanup_timeout:g}s" if limit.expired() else f"cleanup failed: {exc!r}"
        status, message, code = st.FAILED, why, None
    except WorkflowError as exc:
        status, message, code = st.FAILED, str(exc), None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 — a bug must not stop the cleanups after this one
        status, message, code = st.FAILED, f"internal error in wfrun: {type(exc).__name__}: {exc}", None
    finally:
        log.close()
        scrub_local(eng.shared, place, outputs_file, outputs_file + ".cleanup")
    if message:
        with open(log_path, "a", encoding="utf-8") as log_note:
            log_note.write(f"[wfrun] {message}\n")
    eng.emit(StepFinished(job.key, name, status, code, time.monotonic() - t0, str(log_path), message, step.index, cleanup=True))


async def _bounded(coro: Any, limit: Any) -> Any:
    async with limit:
        return await coro
