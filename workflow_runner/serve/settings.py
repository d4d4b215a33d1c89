"""What one ``wfrun serve`` process serves and how: the workflow folder, the wfrun home, the address, the token."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from workflow_runner.errors import WorkflowError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServeSettings:
    root: Path
    """The folder whose workflows are served (``wfrun serve DIR``)."""
    home: Path
    """``$WFRUN_HOME``: the run store, the run directories, ``serve/token``."""
    token: str
    host: str = "127.0.0.1"
    port: int = 8765
    certfile: Path | None = None
    keyfile: Path | None = None
    allowed_hosts: list[str] = field(default_factory=list)
    """Extra names the ``Host`` header may carry (a public bind behind a DNS name)."""
    graceful_timeout: float = 3.0
    """Seconds uvicorn waits for open requests (event streams!) on shutdown before closing them."""

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def store_path(self) -> Path:
        return self.home / "runs.db"

    def host_names(self) -> set[str]:
        """Every ``Host`` header value (lower case, with port) this server answers to: the DNS-rebinding guard."""
        explicit = {h.lower() for h in self.allowed_hosts}  # named by the user: with or without a port
        names = set(explicit)
        bound = self.host.lower()
        if bound in LOOPBACK or is_loopback(bound):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        elif bound in ("0.0.0.0", "::", ""):
            names |= {"127.0.0.1", "localhost", "[::1]", socket.gethostname().lower(), socket.getfqdn().lower()}
        else:
            names.add(f"[{bound}]" if ":" in bound else bound)
        return {f"{n}:{self.port}" for n in names} | explicit | (names if self.port in (80, 443) else set())

    def public_url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_path(home: Path) -> Path:
    return home / "serve" / "token"


def load_or_create_token(home: Path) -> str:
    """The API token in ``$WFRUN_HOME/serve/token`` (mode 600), created (32 random bytes, urlsafe) on first start.

    Created with O_EXCL so two servers starting at once agree on one token; a
    token file others may read is refused, as ssh refuses a readable key.
    """
    path = token_path(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise WorkflowError(f"{path}: the token file is readable by others (mode {mode:o}); run 'chmod 600 {path}'")
    token = path.read_text().strip()
    if len(token) < 32:
        raise WorkflowError(f"{path}: the token is too short; delete the file and a new one is made at the next start")
    return token
