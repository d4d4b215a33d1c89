"""Input-size benchmark (issue 11, item 16): the cost per MB of input must be flat from 1 MB to 16 MB.

Three shapes that used to be quadratic:

- ``blocks``: a workflow of many ``run: |`` block scalars, validated in-process
  (load, schema, model, expressions, graph) — 200k block scalars took > 60 s;
- ``format``: ``format()`` over a template of ``{{`` escapes — 400 KB took 24 s;
- ``quotes``: an expression whose string literal is all ``''`` escapes,
  compiled (template scan + lexer) — 4 MB took 10.5 s.

For each shape and size: the median of --repeat timings, seconds per MB, and
at the end the ratio (s/MB at the largest size) / (s/MB at the smallest),
which stays near 1 when the cost is linear (a quadratic cost gives ~16).

    python bench/bench_input_size.py [--sizes 1,2,4,8,16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1 << 20


def blocks_text(size: int) -> str:
    """A workflow of ~``size`` bytes: one job, steps of three-line block scalars (~55 bytes each)."""
    head = "jobs:\n  a:\n    steps:\n"
    step = "      - run: |\n          echo {i}\n          echo more\n"
    parts, total, i = [head], len(head), 0
    while total < size:
        text = step.format(i=i)
        parts.append(text)
        total += len(text)
        i += 1
    return "".join(parts)


def run_blocks(size: int, folder: Path) -> Callable[[], None]:
    from workflow_runner import validate

    path = folder / f"blocks-{size}.yaml"
    path.write_text(blocks_text(size))

    def go() -> None:
        validate._CACHE.clear()
        os.environ["WFRUN_HOME"] = tempfile.mkdtemp(dir=folder)  # no remembered schema check
        wf, report = validate.check(path)
        assert wf is not None and not report.errors, report.errors[:3]

    return go


def run_format(size: int, folder: Path) -> Callable[[], None]:
    from workflow_runner.expressions.functions import format_

    template = "{{" * (size // 2)

    def go() -> None:
        assert len(format_(template)) == size // 2

    return go


def run_quotes(size: int, folder: Path) -> Callable[[], None]:
    from workflow_runner.expressions.template import compile_string

    body = "''" * (size // 2)
    runs = iter(range(1 << 30))

    def go() -> None:
        # A new text each time: compiled templates are cached by their text.
        template = compile_string("${{ '" + body + "' }}" + str(next(runs)))
        assert not isinstance(template, str)

    return go


SHAPES = {"blocks": run_blocks, "format": run_format, "quotes": run_quotes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8,16", help="input sizes in MB (default 1,2,4,8,16)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per size; the median is reported")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="which shapes (default all)")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'shape':8} {'MB':>6} {'median s':>9} {'s/MB':>8}")
        for shape in args.shapes.split(","):
            per_mb = []
            for mb in sizes:
                go = SHAPES[shape](int(mb * MB), folder)
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    go()
                    times.append(time.perf_counter() - t0)
                median = statistics.median(times)
                per_mb.append(median / mb)
                print(f"{shape:8} {mb:6g} {median:9.3f} {median / mb:8.3f}", flush=True)
            print(f"{shape:8} ratio s/MB {sizes[-1]:g} MB / {sizes[0]:g} MB = {per_mb[-1] / per_mb[0]:.2f}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
