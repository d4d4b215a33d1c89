"""Parse ``ssh.remoteHost`` / ``jumpNodeHost`` strings: ``host``, ``host:port``, ``user@host[:port]``.

IPv6 addresses take brackets when a port follows (``[::1]:2222``); a bare
address with several colons is a host without port. Anything left unset
(``None``) is for the user's ``~/.ssh/config`` (User, Port, HostName) to fill in.
"""

from __future__ import annotations


from workflow_runner.errors import TargetError
from workflow_runner.records import ReadOnly, frozen


@frozen
class HostSpec(ReadOnly):
    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port is not None else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


def parse_host(spec: str, *, user: str | None = None, port: int | None = None) -> HostSpec:
    """``[user@]host[:port]`` → HostSpec; explicit ``user``/``port`` arguments win over the text."""
    text = spec.strip()
    if not text or any(c.isspace() for c in text):
        raise TargetError(f"invalid SSH host {spec!r}: expected host, host:port or user@host[:port]")
    spec_user, sep, rest = text.rpartition("@")
    if sep and not spec_user:
        raise TargetError(f"invalid SSH host {spec!r}: empty user name before '@'")
    host, spec_port = _split_port(rest, spec)
    if not host:
        raise TargetError(f"invalid SSH host {spec!r}: empty host name")
    return HostSpec(host=host, user=user or spec_user or None, port=port if port is not None else spec_port)


def _split_port(text: str, spec: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, bracket, after = text[1:].partition("]")
        if not bracket:
            raise TargetError(f"invalid SSH host {spec!r}: missing ']'")
        if not after:
            return host, None
        if not after.startswith(":"):
            raise TargetError(f"invalid SSH host {spec!r}: unexpected {after!r} after ']'")
        return host, _port(after[1:], spec)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, spec)
    return text, None  # plain name, or an IPv6 address without port


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError(f"invalid SSH host {spec!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)
