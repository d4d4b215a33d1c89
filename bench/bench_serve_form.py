"""``wfrun serve``'s launch form: rendering the largest input trees of the corpus.

The page (``GET /launch``) and one re-evaluation (``POST /launch/form``, what
htmx sends as the user types) are timed in-process through the ASGI app, after
two warm-up requests (the workflow is parsed once and cached by mtime, as on a
live server). The files are read from the reference corpus and copied to a
temporary folder (never into the project).

    python bench/bench_serve_form.py [--repeat 30] [FILE ...]

Target (issue 15): the median render of the largest form < 150 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent.parent / "shared" / "reference" / "corpus"
DEFAULT = [
    "parallelworks__interactive_session__workflow__yamls__librechat-container__general-all_v5.yaml",
    "parallelworks__activate-rag-vllm__yamls__general_v5.yaml",
]
TARGET_MS = 150.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("WFRUN_CORPUS", "/work/shared/reference/corpus")))
    args = parser.parse_args()
    files = args.files or [args.corpus / name for name in DEFAULT if (args.corpus / name).exists()]
    if not files:
        print(f"no corpus files under {args.corpus}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from fastapi.testclient import TestClient

    from workflow_runner.serve.app import create_app
    from workflow_runner.serve.settings import ServeSettings, load_or_create_token

    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder, home = Path(tmp) / "flows", Path(tmp) / "home"
        folder.mkdir()
        os.environ["WFRUN_HOME"] = str(home)
        os.environ["WFRUN_CONFIG"] = str(Path(tmp) / "no-config.yaml")
        for f in files:
            shutil.copy(f, folder / f.name)
        settings = ServeSettings(root=folder, home=home, token=load_or_create_token(home), port=8765)
        with TestClient(create_app(settings), base_url="http://127.0.0.1:8765",
                        headers={"Authorization": f"Bearer {settings.token}"}) as client:
            for f in files:
                page, form = [], []
                for i in range(args.repeat + 2):
                    t = time.perf_counter()
                    r = client.get("/launch", params={"wf": f.name})
                    took = time.perf_counter() - t
                    assert r.status_code == 200, r.text[:500]
                    fields = r.text.count('class="field')
                    t = time.perf_counter()
                    r2 = client.post("/launch/form", data={"wf": f.name, "_touched": ""})
                    took2 = time.perf_counter() - t
                    assert r2.status_code == 200, r2.text[:500]
                    if i >= 2:
                        page.append(took * 1000)
                        form.append(took2 * 1000)
                med_page, med_form = statistics.median(page), statistics.median(form)
                worst = max(worst, med_page, med_form)
                print(f"{f.name}: {fields} fields, {len(r.text) // 1024} KiB; GET /launch median {med_page:.1f} ms "
                      f"(p95 {sorted(page)[int(len(page) * .95) - 1]:.1f}); POST /launch/form median {med_form:.1f} ms")
    verdict = "ok" if worst < TARGET_MS else "OVER"
    print(f"worst median {worst:.1f} ms (target < {TARGET_MS:g} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
