"""Which SSH options a session of an existing run uses: the command line's, else the run's, else the user config's.

A run stores the SSH options it was started with (file paths, never secrets) so that ``wfrun resume``
and ``wfrun cancel`` of a dead run reach its hosts the same way. Here, below ``launch`` and
``actions``, so both can use it.
"""

from __future__ import annotations

import os
from typing import Any


def ssh_record(opts: Any) -> dict[str, Any]:
    """The SSH options of a run as stored with it: absolute paths (no secrets), so resume/cancel work from anywhere."""
    def absolute(path: str) -> str:
        return os.path.abspath(os.path.expanduser(path))

    return {"known_hosts": absolute(opts.known_hosts) if opts.known_hosts else None,
            "identities": [absolute(p) for p in opts.identities],
            "insecure_no_host_key_check": bool(opts.insecure_no_host_key_check)}


def ssh_options(given: dict[str, Any], stored: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """SSH options for a session of an existing run: the command line's, else the run's, else the user config's.

    ``given``/``stored`` use :func:`ssh_record`'s keys; ``config`` is the user config's ``ssh:``
    (``known_hosts``, ``identity_files``). Each option falls back on its own.
    """
    def expand(path: Any) -> Any:
        return os.path.expanduser(path) if isinstance(path, str) else path

    return {
        "known_hosts": given.get("known_hosts") or stored.get("known_hosts") or expand(config.get("known_hosts")),
        "identities": list(given.get("identities") or stored.get("identities")
                           or [expand(p) for p in config.get("identity_files") or []]),
        "insecure_no_host_key_check": bool(given.get("insecure_no_host_key_check") or stored.get("insecure_no_host_key_check")),
    }


def remembered(opts: Any, args: Any, stored: dict[str, Any], config: dict[str, Any]) -> Any:
    """``opts`` (``launch.LaunchOptions``) of ``wfrun resume`` with the run's stored SSH options where the command line gives none."""
    given = {"known_hosts": getattr(args, "known_hosts", None), "identities": getattr(args, "identity", None) or [],
             "insecure_no_host_key_check": getattr(args, "insecure_no_host_key_check", False)}
    chosen = ssh_options(given, stored or {}, config or {})
    opts.known_hosts = chosen["known_hosts"]
    opts.identities = chosen["identities"]
    opts.insecure_no_host_key_check = chosen["insecure_no_host_key_check"]
    return opts
