"""One session's settings: what ``update-session``'s ``with:`` and the workflow's ``sessions:`` entry say, checked.

Local meanings of the platform's keys (README, "Interactive sessions"):

- ``remotePort`` — the service's port (1-65535); ``remoteHost`` — where it listens, as seen from the step's
  resource host (default ``localhost``: the resource host itself, so a service bound to 127.0.0.1 works too;
  a compute node's name reaches it through the resource host, as ``ssh -L`` does).
- ``localPort`` — the local port to listen on (default: a free one).
- ``slug`` — a path appended to the URL (``/#/jobs``, ``vnc.html?autoconnect=true``).
- ``status`` — a word the workflow reports about its service (``running``); shown next to the tunnel's state.
- ``redirect`` (``sessions:``) — the link to open: marked ``open`` on the terminal and made the run page's main link.
- ``useTLS`` (``sessions:``) — the service speaks HTTPS: the URL is ``https://``.
- ``target``, ``targetInfo``, ``useCustomDomain``, ``openAI``, ``type`` — the platform's routing; ``targetInfo``
  selects ``kubectl port-forward`` (kube.py), the rest is recorded and otherwise unused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

WITH_KEYS = ("name", "remotePort", "remoteHost", "localPort", "local_port", "target", "targetInfo", "slug", "status")
"""The ``with:`` keys of ``parallelworks/update-session`` (every key the corpus of real workflows uses;
``local_port`` is the platform's other spelling of ``localPort``)."""


class SpecError(ValueError):
    """A bad value, naming its ``with:`` key (``key``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SessionSpec:
    name: str
    remote_host: str
    remote_port: int
    local_port: int = 0
    slug: str = ""
    status: str = ""
    tls: bool = False
    redirect: bool = True
    target: str = ""
    target_info: dict[str, Any] = field(default_factory=dict)

    def url(self, port: int) -> str:
        path = self.slug.strip()
        path = path if path.startswith("/") else "/" + path
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}{path}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SessionSpec":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def port_number(value: Any, key: str, *, allow_zero: bool = False) -> int:
    """``value`` as a TCP port (an int, or a string of digits); else a SpecError naming ``key``."""
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not (text.isascii() and text.isdigit()):  # str.isdigit() also takes '²', which int() refuses
        raise SpecError(key, f"{key}: {value!r} is not a port number (1-65535)")
    number = int(text)
    if not (0 if allow_zero else 1) <= number <= 65535:
        raise SpecError(key, f"{key}: {number} is not a port number (1-65535)")
    return number


def flag(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def session_spec(with_values: dict[str, Any], settings: dict[str, Any], fallback_name: str) -> SessionSpec:
    """The checked settings of one ``update-session`` call; ``settings`` is its ``sessions:`` entry (rendered)."""
    unknown = [k for k in with_values if k not in WITH_KEYS]
    if unknown:
        raise SpecError(unknown[0], f"update-session has no input '{unknown[0]}' (it takes {', '.join(WITH_KEYS)})")
    if with_values.get("remotePort") in (None, ""):
        raise SpecError("remotePort", "remotePort: the service's port is required")
    remote_port = port_number(with_values["remotePort"], "remotePort")
    local_key = "localPort" if with_values.get("localPort") not in (None, "") else "local_port"
    local = with_values.get(local_key)
    local_port = 0 if local in (None, "") else port_number(local, local_key, allow_zero=True)
    name = str(with_values.get("name") or "").strip() or fallback_name
    info = with_values.get("targetInfo")
    if info is not None and not isinstance(info, dict):
        raise SpecError("targetInfo", "targetInfo: a mapping (resourceType, namespace, name) is expected")
    return SessionSpec(
        name=name,
        remote_host=str(with_values.get("remoteHost") or "").strip() or "localhost",
        remote_port=remote_port,
        local_port=local_port,
        slug=str(with_values.get("slug") or ""),
        status=str(with_values.get("status") or ""),
        tls=flag(settings.get("useTLS")),
        redirect=flag(settings.get("redirect"), default=True),
        target=str(with_values.get("target") or ""),
        target_info=dict(info or {}),
    )
