"""The outputs and datasets routers of ``wfrun serve`` against real runs made by the real CLI.

The app here is a bare ``FastAPI()`` with only these routers and a stand-in
settings object (``home``); authentication is the app's business, not theirs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from workflow_runner.serve import datasets_api, outputs_api
from workflow_runner.serve.run_outputs import HASHES

SECRET = "s3cr3t-" + os.urandom(5).hex()

PRODUCER = """
jobs:
  make:
    steps:
      - name: produce
        run: |
          mkdir -p outputs/weights
          printf 'weights-%s' 0123456789 > outputs/weights/model.pth
          echo '{"ok": true}' > outputs/result.json
          cat > outputs/manifest.json <<'EOF'
          {"experimentId": "exp-7", "outputs": [
            {"id": "summary", "path": "result.json"},
            {"id": "weights", "path": "weights/model.pth"},
            {"id": "gone", "path": "missing.bin"},
            {"id": "escape", "path": "../../../../etc/passwd"}]}
          EOF
          echo "token=${{ inputs.token }}" >> $OUTPUTS
          echo "answer=42" >> $OUTPUTS
'on':
  execute:
    inputs:
      token: {type: password}
"""

CONSUMER = """
jobs:
  use:
    steps:
      - name: read
        run: |
          echo "where=${{ inputs.data }}" >> $OUTPUTS
          echo "content=$(cat '${{ inputs.data }}/d/a.txt')" >> $OUTPUTS
'on':
  execute:
    inputs:
      data: {type: string}
"""


@dataclass
class Settings:
    home: Path


class Api:
    """Synchronous calls into the ASGI app through httpx (no server, no socket)."""

    def __init__(self, home: Path) -> None:
        self.app = FastAPI()
        self.app.include_router(outputs_api.router)
        self.app.include_router(datasets_api.router)
        self.app.state.settings = Settings(home)

    def __call__(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://wfrun.test") as client:
                return await client.request(method, url, **kw)

        return asyncio.run(go())

    def raw_get(self, path: str) -> tuple[int, bytes]:
        """GET with the path exactly as given: httpx would remove '..' segments, a hostile client does not."""
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"wfrun.test")], "server": ("wfrun.test", 80), "client": ("127.0.0.1", 1)}
        asyncio.run(self.app(scope, receive, send))
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def produced(wfrun, write) -> tuple[Api, Path]:
    r = wfrun(write("producer.yaml", PRODUCER), "--set", f"token={SECRET}")
    assert r.code == 0, r.err
    run_dir = next(r.home.glob("jobs/producer/00001"))
    return Api(r.home), run_dir


def test_outputs_lists_masked_values_files_with_sha256_and_the_manifest(produced):
    api, run_dir = produced
    resp = api("GET", "/api/runs/1/outputs")
    assert resp.status_code == 200, resp.text
    assert SECRET not in resp.text
    body = resp.json()
    step = body["values"]["make"]["steps"][0]
    assert step["name"] == "produce" and step["outputs"] == {"token": "***", "answer": "42"}
    model = (run_dir / "outputs" / "weights" / "model.pth").read_bytes()
    files = {f["path"]: f for f in body["files"]}
    assert set(files) == {"outputs/manifest.json", "outputs/result.json", "outputs/weights/model.pth"}
    assert files["outputs/weights/model.pth"]["sha256"] == hashlib.sha256(model).hexdigest()
    assert files["outputs/weights/model.pth"]["size"] == len(model) == len("weights-0123456789")
    manifest = body["manifest"]
    assert manifest["experimentId"] == "exp-7" and manifest["path"] == "outputs/manifest.json"
    by_id = {o["id"]: o for o in manifest["outputs"]}
    assert by_id["weights"]["file"] == "outputs/weights/model.pth"
    assert by_id["weights"]["sha256"] == hashlib.sha256(model).hexdigest()
    assert by_id["gone"]["error"] == "missing"
    assert "'..'" in by_id["escape"]["error"] and "sha256" not in by_id["escape"]
    hashed = HASHES.hashed
    assert api("GET", "/api/runs/last/outputs").json()["files"] == body["files"]
    assert HASHES.hashed == hashed, "the second listing re-hashed unchanged files"


def test_download_streams_the_file(produced):
    api, run_dir = produced
    resp = api("GET", "/api/runs/1/files/outputs/weights/model.pth")
    assert resp.status_code == 200
    assert resp.content == (run_dir / "outputs" / "weights" / "model.pth").read_bytes()
    assert api("GET", "/api/runs/1/files/outputs/nothing").status_code == 404
    assert api("GET", "/api/runs/9/files/outputs/result.json").status_code == 404
    assert api("GET", "/api/runs/x/outputs").status_code == 400


def test_raw_outputs_record_is_neither_listed_nor_served(produced):
    api, run_dir = produced
    records = list((run_dir / "outputs" / "make").iterdir())
    assert len(records) == 1  # the engine's own record (secrets masked since issue 11, hidden all the same)
    rel = records[0].relative_to(run_dir).as_posix()
    resp = api("GET", f"/api/runs/1/files/{rel}")
    assert resp.status_code == 403 and "unmasked" in resp.json()["detail"] and SECRET not in resp.text


@pytest.mark.parametrize("path", [
    "/api/runs/1/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/api/runs/1/files/outputs/..%2f..%2f..%2f..%2fetc/passwd",
    "/api/runs/1/files/%2Fetc%2Fpasswd",
    "/api/runs/1/files//etc/passwd",
    "/api/runs/1/files/outputs/out/passwd",
])
def test_run_files_refuse_traversal(produced, path):
    api, run_dir = produced
    (run_dir / "outputs" / "out").symlink_to("/etc")
    resp = api("GET", path)
    assert resp.status_code in (400, 403), resp.text  # 403: a symlink that leaves the run directory
    assert any(why in resp.json()["detail"] for why in ("'..'", "relative", "leaves its directory"))
    assert "root:" not in resp.text


def test_run_files_refuse_a_literal_dotdot(produced):
    api, _ = produced
    status, body = api.raw_get("/api/runs/1/files/outputs/../../../../../etc/passwd")
    assert status == 400 and b"may not contain '..'" in body


# ------------------------------------------------------------------ datasets


def tar_gz(members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(home: Path) -> list[str]:
    root = home / "datasets"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def test_dataset_upload_exists_get_list_and_dedup(tmp_path):
    api = Api(tmp_path)
    data = tar_gz({"d/a.txt": b"alpha\n"})

    async def chunks():
        for i in range(0, len(data), 7):
            yield data[i:i + 7]

    assert api("GET", f"/api/datasets/{sha(data)}/exists").json() == {"exists": False}
    assert api("HEAD", f"/api/datasets/{sha(data)}").status_code == 404
    first = api("POST", "/api/datasets", params={"sha256": sha(data), "name": "a.tar.gz"}, content=chunks())
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "archive" and first.json()["deduplicated"] is False
    again = api("POST", "/api/datasets", params={"sha256": sha(data).upper(), "name": "b.tgz"}, content=data)
    assert again.status_code == 200 and again.json()["deduplicated"] is True
    assert stored(tmp_path) == [sha(data)]
    assert api("HEAD", f"/api/datasets/{sha(data)}").status_code == 200
    assert api("GET", f"/api/datasets/{sha(data)}/exists").json()["exists"] is True
    assert api("GET", f"/api/datasets/{sha(data)}").json()["files"] == 1
    assert [d["sha256"] for d in api("GET", "/api/datasets").json()["datasets"]] == [sha(data)]
    assert api("GET", f"/api/datasets/{sha(data)}/files/d/a.txt").content == b"alpha\n"
    assert api("GET", "/api/datasets/nothex").status_code == 400


def test_dataset_mismatch_and_hostile_archives_store_nothing(tmp_path):
    api = Api(tmp_path)
    data = tar_gz({"a.txt": b"alpha"})
    resp = api("POST", "/api/datasets", params={"sha256": sha(b"other"), "name": "a.tar.gz"}, content=data)
    assert resp.status_code == 400 and "mismatch" in resp.json()["detail"]
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    for bad, why in ((tar_gz({"../evil.txt": b"x"}), "'..'"), (tar_gz({}, [link]), "absolute")):
        resp = api("POST", "/api/datasets", params={"sha256": sha(bad), "name": "bad.tar.gz"}, content=bad)
        assert resp.status_code == 400 and why in resp.json()["detail"], resp.text
    assert stored(tmp_path) == [] and list((tmp_path / "datasets" / ".incoming").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_dataset_files_refuse_traversal(tmp_path):
    api = Api(tmp_path)
    data = tar_gz({"d/a.txt": b"alpha"}, [_symlink("d/out", "a.txt")])
    assert api("POST", "/api/datasets", params={"sha256": sha(data), "name": "a.tar.gz"}, content=data).status_code == 201
    (tmp_path / "datasets" / sha(data) / "data" / "escape").symlink_to(tmp_path)
    base = f"/api/datasets/{sha(data)}/files"
    for path in (f"{base}/%2e%2e/meta.json", f"{base}/d/..%2f..%2fmeta.json", f"{base}/%2Fetc%2Fpasswd",
                 f"{base}/escape/datasets"):
        resp = api("GET", path)
        assert resp.status_code in (400, 403), (path, resp.text)
    status, body = api.raw_get(f"{base}/../meta.json")
    assert status == 400 and b"may not contain '..'" in body
    assert api("GET", f"{base}/d/out").content == b"alpha"  # an in-tree link is fine


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def test_a_run_sees_an_uploaded_dataset_as_a_path(wfrun, write):
    home = wfrun.home
    api = Api(home)
    data = tar_gz({"d/a.txt": b"alpha from the dataset"})
    info = api("POST", "/api/datasets", params={"sha256": sha(data), "name": "in.tar.gz"}, content=data).json()
    r = wfrun(write("consumer.yaml", CONSUMER), "--set", f"data=dataset:{sha(data)}")
    assert r.code == 0, r.err
    step = api("GET", "/api/runs/1/outputs").json()["values"]["use"]["steps"][0]
    assert step["outputs"] == {"where": info["path"], "content": "alpha from the dataset"}
    missing = wfrun(write("consumer.yaml", CONSUMER), "--set", "data=dataset:" + "ab" * 32)
    assert missing.code == 2
    lines = missing.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wfrun: inputs.data: dataset abab") and "not found" in lines[0], missing.err
