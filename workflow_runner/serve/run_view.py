"""One run as its page shows it: ``wfrun status --json`` data plus the job graph drawn by cytoscape.

The graph's edges come from the workflow file's ``needs:`` (the store keeps
jobs, not their dependencies); matrix instances (``deploy (a) #1``) become
children of one compound node named after their job, so a 50-way matrix is one
box holding 50 coloured dots rather than 50 unrelated nodes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from workflow_runner.serve import data
from workflow_runner.state.store import RunStore

INSTANCE = re.compile(r"^(?P<base>[^ ()]+) \(")
"""A matrix instance's key starts with its job's key and a space, then its values in parentheses."""


def base_job(key: str) -> str:
    found = INSTANCE.match(key)
    return found.group("base") if found else key


def _needs(file: str) -> dict[str, list[str]]:
    from workflow_runner.loader import load_file

    try:
        tree = load_file(file)
    except Exception:  # an edited or removed file: the graph shows the jobs without edges
        return {}
    jobs = tree.get("jobs") if hasattr(tree, "get") else None
    out: dict[str, list[str]] = {}
    for key, job in (jobs or {}).items():
        needs = job.get("needs") if hasattr(job, "get") else None
        out[str(key)] = [str(n) for n in ([needs] if isinstance(needs, str) else needs or [])]
    return out


def graph(status: dict[str, Any]) -> dict[str, Any]:
    """Cytoscape elements: a node per job (instances grouped under their job), an edge per ``needs``."""
    needs = _needs(status["file"])
    nodes: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {}
    for job in status["jobs"]:
        groups.setdefault(base_job(job["key"]), []).append(job["key"])
    for key in needs:
        groups.setdefault(key, [])
    jobs = {j["key"]: j for j in status["jobs"]}
    for base, keys in groups.items():
        if keys == [base] or not keys:
            job = jobs.get(base, {"status": "pending", "duration": None})
            nodes.append({"data": {"id": base, "label": base, "status": job["status"]}})
            continue
        states = [jobs[k]["status"] for k in keys]
        nodes.append({"data": {"id": base, "label": f"{base} ×{len(keys)}", "status": _overall(states)}})
        for k in keys:
            nodes.append({"data": {"id": k, "label": k[len(base):].strip(), "parent": base, "status": jobs[k]["status"]}})
    edges = [{"data": {"id": f"{n}->{key}", "source": n, "target": key}}
             for key, ns in needs.items() for n in ns if n in groups and key in groups]
    return {"nodes": nodes, "edges": edges}


def _overall(states: list[str]) -> str:
    for s in ("failed", "running", "canceled", "interrupted", "pending", "waiting", "queued"):
        if s in states:
            return s
    return states[0] if len(set(states)) == 1 else "running"


def context(store: RunStore, run: int, root: Path) -> dict[str, Any]:
    """Everything run.html and _run_panel.html draw."""
    status = data.run_detail(store, run)
    row = data.get_run(store, run)
    inputs = json.dumps(status.get("inputs") or {}, indent=2, default=str)
    return {"run": status, "graph": json.dumps(graph(status)), "inputs_text": inputs,
            "sessions": status.get("sessions") or [], "final": row.final,
            "workflow_id": data.workflow_id_of(root, row), "passwords": row.secret_paths or [],
            "rerunnable": row.final and row.status != "completed"}


__all__ = ["context", "graph", "base_job"]
