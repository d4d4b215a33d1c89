"""``wfrun validate`` on the whole real-workflow corpus, in one process, against baselines of the same run.

Each sample is a whole ``python -m workflow_runner validate <164 files>``
process (what a user waits for). "cold" gives every run a fresh WFRUN_HOME, so
the JSON-schema check runs for every file; "warm" reuses one home, where files
that passed the schema before skip it. Baselines, measured in the same run:
interpreter start-up with ``import workflow_runner.validate``, and a bare
ruamel.yaml parse (C parser, events only, as wfrun's loader reads them) of the
same files in one process: the floor of any validator that keeps line:col. Reports medians and the machine's load average, since the
machine may be shared.

    python bench/bench_corpus.py [--repeat 7] [--corpus ../shared/reference/corpus]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "reference" / "corpus"
RUAMEL_PARSE = """
import sys
from ruamel.yaml import YAML
yaml = YAML(typ="safe", pure=False)
for path in sys.argv[1:]:
    with open(path) as f:
        list(yaml.parse(f.read()))
"""


def timed(cmd: list[str], env: dict[str, str], ok_codes: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok_codes:
        sys.exit(f"{cmd[:4]} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("WFRUN_CORPUS") or DEFAULT_CORPUS))
    args = parser.parse_args()
    files = sorted(str(p) for p in args.corpus.glob("*.yaml"))
    if not files:
        sys.exit(f"no corpus files under {args.corpus}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    validate = [sys.executable, "-m", "workflow_runner", "validate", *files]
    # exit 2 is expected: a known-broken corpus file (see tests/unit/test_corpus.py) fails validation
    samples: dict[str, list[float]] = {"import workflow_runner.validate": [], "ruamel parse": [], "validate cold": [], "validate warm": []}
    with tempfile.TemporaryDirectory() as tmp:
        warm_env = {**env, "WFRUN_HOME": f"{tmp}/warm", "WFRUN_CONFIG": f"{tmp}/none.yaml"}
        timed(validate, warm_env, (0, 2))  # fill the warm home's schema cache
        for i in range(args.repeat):
            samples["import workflow_runner.validate"].append(timed([sys.executable, "-c", "import workflow_runner.validate"], env))
            samples["ruamel parse"].append(timed([sys.executable, "-c", RUAMEL_PARSE, *files], env))
            cold_env = {**env, "WFRUN_HOME": f"{tmp}/cold{i}", "WFRUN_CONFIG": f"{tmp}/none.yaml"}
            samples["validate cold"].append(timed(validate, cold_env, (0, 2)))
            samples["validate warm"].append(timed(validate, warm_env, (0, 2)))
    load = os.getloadavg()
    print(f"{len(files)} files, {args.repeat} runs each, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    base = statistics.median(samples["ruamel parse"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:32s} median {median:6.3f} s  (min {min(values):.3f}, max {max(values):.3f})  {median / base:5.2f}x ruamel parse")


if __name__ == "__main__":
    main()
