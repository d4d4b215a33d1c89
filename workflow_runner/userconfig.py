"""The user's wfrun config: named clusters, ``org`` values, SSH defaults.

``$WFRUN_CONFIG``, else ``~/.config/wfrun/config.yaml``. Example::

    clusters:
      mycluster: {ip: login.example.org, user: alice, schedulerType: slurm}
    org:
      HF_TOKEN: hf_...            # ${{ org.HF_TOKEN }}; masked in logs
    ssh:
      known_hosts: ~/.ssh/known_hosts
      identity_files: [~/.ssh/id_ed25519]
    # values of the platform's pickers (input types of the same name): a list of
    # names, or a map name → value; the only entry (or with `autoselect: true` the
    # first) is the default of an input of that type that has none
    kubernetes-clusters: [prod-k8s]
    kubernetes-namespaces: [default, ml-team]
    kubernetes-pvc: [shared-data]
    organization-groups: [my-group]
    bucket: {results: s3://my-results-bucket}
    storage: [scratch]
"""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path
from typing import Any

from workflow_runner.errors import LoadError, Location
from workflow_runner.records import Record, record


NAMED_SECTIONS = ("kubernetes-clusters", "kubernetes-namespaces", "kubernetes-pvc", "organization-groups", "bucket", "storage")
"""Config sections that name the values of the platform input type of the same name (inputs/types.py)."""


@record
class UserConfig(Record):
    """The user's wfrun config file (clusters, org values, SSH defaults, named inputs); empty without one."""

    clusters: dict[str, Any] = field(default_factory=dict)
    org: dict[str, Any] = field(default_factory=dict)
    ssh: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    named: dict[str, Any] = field(default_factory=dict)
    """Section (an input type in NAMED_SECTIONS) → list of names or map name → value."""


def config_path() -> Path | None:
    """Where the config is; None when there is no home to look in (then there is no config)."""
    env = os.environ.get("WFRUN_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base:
        try:
            base = str(Path.home() / ".config") if os.environ.get("HOME") != "" else None
        except (RuntimeError, KeyError):
            base = None
    return Path(base) / "wfrun" / "config.yaml" if base else None


def load_user_config() -> UserConfig:
    path = config_path()
    if path is None or not path.is_file():
        return UserConfig()
    from workflow_runner import treecache
    from workflow_runner.state.rundir import cache_dir

    try:
        tree = treecache.load(path, cache_dir("trees"))
    except LoadError as exc:
        # The loader speaks of workflows; a config file has its own shape (and may be empty).
        if exc.message.startswith("the file is empty"):
            return UserConfig(path=str(path))
        if exc.message.startswith("the top level must be a mapping"):
            raise LoadError("the wfrun config file must be a mapping with any of clusters:, org:, ssh: "
                            "(set WFRUN_CONFIG to use another file)", location=exc.location) from None
        raise
    for key in ("clusters", "org", "ssh"):
        if key in tree and not isinstance(tree[key], dict):
            raise LoadError(f"'{key}' must be a mapping", location=tree.value_locs.get(key) or Location(str(path)))
    for key in NAMED_SECTIONS:
        if key in tree and not isinstance(tree[key], (dict, list)):
            raise LoadError(f"'{key}' must be a list of names or a mapping of names to values", location=tree.value_locs.get(key) or Location(str(path)))
    known = ("clusters", "org", "ssh", *NAMED_SECTIONS)
    unknown = [k for k in tree if k not in known]
    if unknown:
        raise LoadError(f"unknown key '{unknown[0]}' (expected {', '.join(known)})", location=tree.key_locs.get(unknown[0]))
    named = {k: _plain(tree[k]) for k in NAMED_SECTIONS if tree.get(k) is not None}
    return UserConfig(dict(tree.get("clusters") or {}), dict(tree.get("org") or {}), dict(tree.get("ssh") or {}), str(path), named)


def _plain(value: Any) -> Any:
    """Loaded YAML containers as plain dicts and lists."""
    import json

    return json.loads(json.dumps(value))
