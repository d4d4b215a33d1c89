"""Which user to log in as on a host named without one: the cluster's ``user:``.

On the platform a cluster is a resource with an ``ip`` and a ``user``; workflows write
``ssh: remoteHost: ${{ inputs.resource.ip }}`` and job_runner gets the whole resource,
and both connect as the resource's user. Here the same: a host named without ``user@``
logs in as the ``user`` of the run's resource inputs whose ``ip`` names that host (and
port), else of the user config's ``clusters:`` entry with that ``ip``, else as OpenSSH
would (``~/.ssh/config`` ``User``, then the local user). ``user@host`` in ``remoteHost``
always wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from workflow_runner.errors import TargetError

if TYPE_CHECKING:
    from workflow_runner.targets.hostspec import HostSpec

LOCAL_NAMES = {"", "localhost", "local"}
RESOURCE_KEYS = {"ip", "user", "schedulerType", "namespace"}
"""Keys every coerced ``compute-clusters`` value has (inputs/types.py coerce_resource)."""


def with_user(host: str, user: str | None) -> str:
    """``host`` with ``user@`` in front, unless it is local, names a user already, or there is none."""
    text = (host or "").strip()
    if not user or text in LOCAL_NAMES or "@" in text:
        return text
    return f"{str(user).strip()}@{text}"


class HostUsers:
    """Host (and port) → login user, from resources and named clusters; first one given wins."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self.entries: list[tuple[HostSpec, str]] = []
        for ip, user in entries:
            self.add(ip, user)

    def add(self, ip: Any, user: Any) -> None:
        if not isinstance(ip, str) or not isinstance(user, str) or not user.strip() or ip.strip() in LOCAL_NAMES:
            return
        try:
            spec = _parse_host(ip)
        except TargetError:
            return  # a bad ip fails where it is used, with its own message
        if spec.user is None and not any(_same(spec, known) for known, _ in self.entries):
            self.entries.append((spec, user.strip()))

    def user_for(self, host: str) -> str | None:
        """The login user for ``host`` when it names none itself; None leaves the choice to OpenSSH."""
        text = (host or "").strip()
        if "@" in text or text in LOCAL_NAMES:
            return None
        try:
            spec = _parse_host(text)
        except TargetError:
            return None
        return next((user for known, user in self.entries if _same(spec, known)), None)

    def apply(self, host: str) -> str:
        return with_user(host, self.user_for(host))


def _same(a: HostSpec, b: HostSpec) -> bool:
    return a.host.lower() == b.host.lower() and a.port == b.port


def host_users(inputs: Any, clusters: dict[str, Any] | None) -> HostUsers:
    """The run's resource inputs first (the resource the run was given), then the user config's clusters."""
    found = HostUsers()
    for resource in _resources(inputs):
        found.add(resource.get("ip"), resource.get("user"))
    for entry in (clusters or {}).values():
        if isinstance(entry, dict):
            found.add(entry.get("ip"), entry.get("user"))
    return found


def _resources(value: Any, depth: int = 0) -> Iterable[dict]:
    """Every resource value in the inputs tree (groups and lists included), in order."""
    if depth > 50:
        return
    if isinstance(value, dict):
        if RESOURCE_KEYS <= value.keys():
            yield value
            return
        for item in value.values():
            yield from _resources(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _resources(item, depth + 1)


def _parse_host(text: str) -> HostSpec:
    """targets/hostspec.py, loaded when a run names a host (a local run names none)."""
    from workflow_runner.targets.hostspec import parse_host

    return parse_host(text)
