"""``parallelworks/update-session``: open (or update) the run's session NAME — a local port forwarding to the
service the workflow started — and report its link.

The tunnel starts where the step runs: over the run's SSH connection to the step's ``ssh:`` host (through its
jump host), or a relay on this machine for a local step; ``targetInfo`` (Kubernetes) uses ``kubectl
port-forward`` (sessions/kube.py). The session belongs to the run (sessions/registry.py): the step completes as
soon as the port listens, and the run's end closes it. Outputs: ``url``, ``local_port``.
"""

from __future__ import annotations

from typing import Any, Callable

from workflow_runner.engine import status as st
from workflow_runner.engine.events import SessionChanged
from workflow_runner.engine.stepcall import StepCall, StepOutcome
from workflow_runner.errors import TargetError, UsesError
from workflow_runner.expressions import Context, render
from workflow_runner.expressions.values import stringify
from workflow_runner.sessions.errors import SessionError
from workflow_runner.sessions.registry import RunSessions, Session
from workflow_runner.sessions.spec import SessionSpec, SpecError, session_spec

SESSIONS = ("sessions",)
"""The key of the run's RunSessions among the run's services."""


def session_event(session: Session, message: str | None) -> SessionChanged:
    spec = {**session.spec.to_json(), "host": session.host, "jump": session.jump, "via": session.via}
    return SessionChanged(session.job, session.step, session.spec.name, session.url, session.port, session.remote,
                          session.via, session.state, message, session.spec.status, session.spec.redirect, spec)


def run_sessions(service: Callable[[tuple, Callable[[], Any]], Any], emit: Callable[[Any], None],
                 at_run_end: Callable[[Any], None]) -> RunSessions:
    """The run's sessions, made on first use; their closing is registered for the run's end."""
    def make() -> RunSessions:
        registry = RunSessions(lambda session, message: emit(session_event(session, message)))
        at_run_end(registry.close_all)
        return registry

    return service(SESSIONS, make)


def make_forwarder(spec: SessionSpec, target: Any, local: bool, on_state: Callable[[str, str | None], None]) -> Any:
    if spec.target_info:
        return kube_forwarder(spec, on_state)
    if local:
        from workflow_runner.sessions.forwarder import LocalRelay

        return LocalRelay(spec.remote_host, spec.remote_port, spec.local_port)
    if not hasattr(target, "tunnel_connection"):
        raise TargetError(f"session {spec.name}: the step's host {target.name} cannot forward ports")
    from workflow_runner.sessions.ssh import SSHTunnel

    return SSHTunnel(target.tunnel_connection, spec.remote_host, spec.remote_port, local_port=spec.local_port,
                     on_state=on_state, where=target.name)


def kube_forwarder(spec: SessionSpec, on_state: Callable[[str, str | None], None]) -> Any:
    """``kubectl port-forward`` for a ``targetInfo`` session (sessions/kube.py, same interface as the SSH tunnel).

    ``targetInfo``: ``resourceType`` (services, pods …), ``resourceName``, ``namespace``; its ``name`` is the
    platform's cluster, which kubectl's current context stands for here."""
    try:
        from workflow_runner.sessions.kube import KubectlForward
    except ImportError:
        raise TargetError(f"session {spec.name}: targetInfo (Kubernetes) needs workflow_runner.sessions.kube, "
                          "which this wfrun does not have") from None
    info = spec.target_info
    forward: Any = None

    def note(text: str) -> None:
        on_state(forward.state if forward is not None else "starting", text)

    forward = KubectlForward(namespace=str(info.get("namespace") or "default"),
                             resource_type=str(info.get("resourceType") or "services"),
                             name=str(info.get("resourceName") or ""), remote_port=spec.remote_port,
                             local_port=spec.local_port or None, on_note=note)
    return forward


async def open_session(registry: RunSessions, spec: SessionSpec, target: Any, local: bool, *, job: str, step: str,
                       host: str, jump: str | None) -> Session:
    via = "kubectl" if spec.target_info else ("local" if local else target.name)
    forwarder = make_forwarder(spec, target, local, registry.state_changed(spec.name))
    session = Session(spec, forwarder, job, step, via, host=host, jump=jump)
    try:
        return await registry.start(session)
    except OSError as exc:
        where = f"127.0.0.1:{spec.local_port}" if spec.local_port else "a local port"
        raise TargetError(f"session {spec.name}: cannot listen on {where}: {exc.strerror or exc}") from None


def _step_host(call: StepCall, ctx: Context) -> tuple[str, str | None]:
    """The step's ``ssh:`` host and jump host, as placement evaluated them (what a resume connects to again)."""
    job = call.workflow.jobs.get(call.job_name)
    ssh = call.step.ssh or (job.ssh if job is not None else None)
    if ssh is None:
        return "", None
    host = stringify(render(ssh.remote_host, ctx)) if ssh.remote_host is not None else ""
    jump = stringify(render(ssh.jump_host, ctx)) if ssh.jump_host is not None else None
    return host.strip(), (jump.strip() or None) if jump else None


async def update_session(call: StepCall, with_values: dict[str, Any], definition: Any = None) -> StepOutcome:
    ctx = call.context(call.env)
    name = str(with_values.get("name") or "").strip() or call.step.key
    settings = render(call.workflow.sessions.get(name) or {}, ctx)
    try:
        spec = session_spec(with_values, settings if isinstance(settings, dict) else {}, name)
    except SpecError as exc:
        raise UsesError(str(exc), location=call.locate("with", exc.key) or call.locate("with")) from None
    host, jump = _step_host(call, ctx)
    registry = run_sessions(call.service, call.emit, call.at_run_end)
    session = await open_session(registry, spec, call.placement.target, call.placement.local, job=call.job_key,
                                 step=call.step.name, host=host, jump=jump)
    call.log.note(f"session {spec.name}: {session.url} -> {session.remote} on {session.via}")
    return StepOutcome(st.COMPLETED, 0, {"url": session.url, "local_port": str(session.port)})


async def reopen_sessions(rows: list[Any], *, service: Callable, emit: Callable, at_run_end: Callable,
                          target_of: Callable[[str, str | None], Any], is_local: Callable[[Any], bool]) -> list[str]:
    """``wfrun resume``: open again the sessions the previous attempt had open (steps it carries over do not run
    again); each on the port its link named when that port is free. Returns a line per session that failed."""
    registry = run_sessions(service, emit, at_run_end)
    problems = []
    for row in rows:
        data = dict(row.spec)
        host, jump = str(data.pop("host", "") or ""), data.pop("jump", None)
        data.pop("via", None)
        wanted = SessionSpec.from_json(data)
        try:
            target = target_of(host, jump)
            try:  # the port the link named, so a bookmark still works; else the one the workflow asked for
                same = SessionSpec.from_json({**data, "local_port": row.local_port})
                await open_session(registry, same, target, is_local(target), job=row.job, step=row.step, host=host, jump=jump)
            except (TargetError, SessionError):
                if row.local_port == wanted.local_port:
                    raise
                await open_session(registry, wanted, target, is_local(target), job=row.job, step=row.step, host=host,
                                   jump=jump)
        except Exception as exc:  # noqa: BLE001 - a session that cannot come back must not stop the resume
            problems.append(f"session {row.name} not re-opened: {exc}")
            # Its row said "open" with the old link: status, wfrun sessions and serve must not offer it.
            emit(SessionChanged(row.job, row.step, row.name, row.url, row.local_port, row.remote, row.via, "closed",
                                f"not re-opened: {exc}", row.status, row.redirect, row.spec))
    return problems
