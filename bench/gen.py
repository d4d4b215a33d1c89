"""Generate benchmark workflows: N independent jobs, a chain of N jobs, or a wide DAG."""

from __future__ import annotations

import argparse
import sys


def independent(n: int) -> str:
    out = ["jobs:"]
    for i in range(n):
        out += [f"  j{i}:", "    steps:", "      - run: echo hi"]
    return "\n".join(out) + "\n"


def chain(n: int) -> str:
    out = ["jobs:"]
    for i in range(n):
        out += [f"  j{i}:"]
        if i:
            out += [f"    needs: [j{i - 1}]"]
        out += ["    steps:", "      - run: echo hi"]
    return "\n".join(out) + "\n"


def layered(n: int, width: int = 100) -> str:
    """Jobs in layers of ``width``; each needs two jobs of the previous layer, with an expression per step."""
    out = ["on:", "  execute:", "    inputs:", "      greeting: {type: string, default: hi}", "jobs:"]
    for i in range(n):
        out += [f"  j{i}:"]
        if i >= width:
            a, b = i - width, i - width + (1 if (i % width) + 1 < width else 0)
            out += [f"    needs: [j{a}, j{b}]" if a != b else f"    needs: [j{a}]"]
        out += ["    steps:", "      - run: echo ${{ inputs.greeting }}"]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("shape", choices=["independent", "chain", "layered"])
    p.add_argument("n", type=int)
    a = p.parse_args()
    sys.stdout.write({"independent": independent, "chain": chain, "layered": layered}[a.shape](a.n))


if __name__ == "__main__":
    main()
