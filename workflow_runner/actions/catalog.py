"""``wfrun actions``: what the marketplace search path holds, and one action's inputs."""

from __future__ import annotations

import json
from typing import Any

from workflow_runner.uses.resolve import resolve, search_path
from workflow_runner.errors import Location


def list_actions() -> str:
    rows: dict[str, dict[str, str]] = {}
    for root in search_path():
        if not root.is_dir():
            continue
        for slug_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for file in sorted(slug_dir.glob("*.y*ml")):
                rows.setdefault(slug_dir.name, {}).setdefault(file.stem, _description(file))
    if not rows:
        return "no marketplace actions found (search path: " + ", ".join(map(str, search_path())) + ")"
    lines = []
    for slug, versions in sorted(rows.items()):
        latest = sorted(versions, key=_version_key)[-1]
        lines.append(f"{slug:24} {', '.join(sorted(versions, key=_version_key)):16} {versions[latest]}")
    return "\n".join(lines)


def _version_key(v: str) -> tuple:
    # (0, n) sorts numbers before (1, text) and never compares an int with a str
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.lstrip("v").split("."))


def _description(file: Any) -> str:
    from workflow_runner.loader import load_file

    try:
        tree = load_file(file)
    except Exception:
        return "(unreadable)"
    text = tree.get("description") or tree.get("name") or ""
    return str(text).strip().splitlines()[0] if text else ""


def show_action(name: str) -> str:
    from pathlib import Path

    from workflow_runner.validate import load_workflow

    text = name if name.startswith("marketplace/") else f"marketplace/{name}"
    ref = resolve(text, base_dir=Path.cwd(), location=Location("wfrun actions show"))
    wf = load_workflow(ref.path, "action")
    lines = [f"{text}  ({ref.path})"]
    desc = wf.tree.get("description")
    if desc:
        lines.append(str(desc).strip())
    lines.append("inputs:")
    lines += _inputs(wf.tree.get("on", {}).get("execute", {}).get("inputs", {}), "  ")
    return "\n".join(lines)


def _inputs(defs: dict, indent: str) -> list[str]:
    out = []
    for key, spec in defs.items():
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type", "string")
        default = f" = {json.dumps(spec['default'])}" if "default" in spec else ""
        flags = [f for f in ("optional", "hidden") if spec.get(f) is True]
        label = spec.get("label") or ""
        out.append(f"{indent}{key}: {kind}{default}" + (f"  [{', '.join(flags)}]" if flags else "") + (f"  # {label}" if label else ""))
        if kind == "group":
            out += _inputs(spec.get("items") or {}, indent + "  ")
    return out
