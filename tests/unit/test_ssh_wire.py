"""The SSH wire protocol under a local bash over pipes (no sshd): what the remote side runs and reports.

The channel is stood in for by three pipes: stdin (the bootstrap, then the open lifeline),
stdout (the step's output) and stderr (the control records), exactly as sshd wires a session.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from workflow_runner.targets.base import StepCommand
from workflow_runner.targets.ssh import bootstrap
from workflow_runner.targets.ssh.wire import Record, encode_program, exec_command, parse_record


def _start(command: StepCommand, *, bash_login: bool = True) -> subprocess.Popen:
    encoded = encode_program(bootstrap(command))
    proc = subprocess.Popen(["bash", "-c", exec_command(encoded, login_shell_is_bash=bash_login)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(encoded + b"\0")
    proc.stdin.flush()
    return proc


def _run(command: StepCommand, **kw) -> tuple[bytes, list[Record | bytes], bytes]:
    """Output, control records (up to ``O``), and the outputs bytes; the lifeline stays open until the end."""
    proc = _start(command, **kw)
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    with ThreadPoolExecutor(2) as pool:  # read both streams to their end while stdin stays open
        out_f, err_f = pool.submit(proc.stdout.read), pool.submit(proc.stderr.read)
        out, err = out_f.result(timeout=30), err_f.result(timeout=30)
    proc.wait(timeout=10)
    proc.stdin.close()
    records: list[Record | bytes] = []
    outputs = b""
    rest = err
    while rest:
        line, nl, rest = rest.partition(b"\n")
        record = parse_record(line + nl)
        records.append(record if record is not None else line)
        if record is not None and record.kind == "O":
            outputs = rest
            break
    return out, records, outputs


def _cmd(tmp_path: Path, script: str, **kw) -> StepCommand:
    kw.setdefault("env", {})
    return StepCommand(script=script, cwd=str(tmp_path / "work"), outputs_file=str(tmp_path / "out" / "OUTPUTS"), **kw)


def _exit(records) -> int:
    (code,) = [int(r.value) for r in records if isinstance(r, Record) and r.kind == "X"]
    return code


@pytest.mark.parametrize("bash_login", [True, False])
def test_env_quoting_and_odd_names(tmp_path: Path, bash_login: bool):
    env = {"PLAIN": "a b", "QUOTES": "it's \"q\" $HOME `x` \\", "NL": "one\ntwo", "odd-name": "v-1", "UTF": "é☃"}
    out, records, _ = _run(_cmd(tmp_path, 'printf "%s|" "$PLAIN" "$QUOTES" "$NL" "$UTF"; env | grep "^odd-name="',
                                env=env), bash_login=bash_login)
    assert out.decode() == "a b|it's \"q\" $HOME `x` \\|one\ntwo|é☃|odd-name=v-1\n"
    assert _exit(records) == 0


def test_script_runs_in_cwd_which_is_created(tmp_path: Path):
    out, records, _ = _run(_cmd(tmp_path, "pwd; echo err >&2"))
    assert out.decode().splitlines() == [str(tmp_path / "work"), "err"]
    assert (tmp_path / "out").is_dir()
    assert [r.kind for r in records if isinstance(r, Record)][:2] == ["P", "X"]


def test_cwd_that_cannot_be_created_is_reported(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    command = StepCommand(script="echo ran", env={}, cwd=str(tmp_path / "file" / "sub"),
                          outputs_file=str(tmp_path / "file" / "sub" / "OUTPUTS"))
    out, records, _ = _run(command)
    assert b"ran" not in out
    assert Record("C", "") in records
    assert not any(isinstance(r, Record) and r.kind == "X" for r in records)


@pytest.mark.parametrize("text", ["a=1\nb=2\n", "k=é☃ no newline", "x=1\n\n  spaced = y\n"])
def test_outputs_are_framed_verbatim(tmp_path: Path, text: str):
    _, records, outputs = _run(_cmd(tmp_path, 'printf "%s" "$V" > "$OUTPUTS"', env={"V": text,
                                                                                   "OUTPUTS": str(tmp_path / "out" / "OUTPUTS")}))
    assert outputs.decode() == text
    assert _exit(records) == 0


def test_outputs_stop_at_a_nul(tmp_path: Path):
    _, _, outputs = _run(_cmd(tmp_path, "printf 'a=1\\0b=2' > \"$OUTPUTS\"", env={"OUTPUTS": str(tmp_path / "out" / "OUTPUTS")}))
    assert outputs == b"a=1"


def test_no_outputs_file_means_no_o_record(tmp_path: Path):
    _, records, outputs = _run(_cmd(tmp_path, "true"))
    assert outputs == b"" and not any(isinstance(r, Record) and r.kind == "O" for r in records)


@pytest.mark.parametrize("script, code", [("exit 3", 3), ("false", 1), ("kill -TERM $$", 128 + 15), ("kill -KILL $$", 128 + 9)])
def test_exit_codes(tmp_path: Path, script: str, code: int):
    _, records, _ = _run(_cmd(tmp_path, script))
    assert _exit(records) == code


def test_control_lines_are_not_output_and_output_is_not_control(tmp_path: Path):
    out, records, _ = _run(_cmd(tmp_path, "echo '@@wfrun X 99'; echo plain"))
    assert out == b"@@wfrun X 99\nplain\n"
    assert _exit(records) == 0


def test_parse_record():
    assert parse_record(b"@@wfrun X 7\n") == Record("X", "7")
    assert parse_record(b"@@wfrun C\n") == Record("C", "")
    assert parse_record(b"hello\n") is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_eof_on_stdin_kills_the_step_group(tmp_path: Path):
    pidfile = tmp_path / "pid"
    proc = _start(_cmd(tmp_path, f"sleep 1007 & echo $! > {pidfile}; trap '' TERM; wait", grace=1))
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child = int(pidfile.read_text())
    assert _alive(child)
    assert proc.stdin is not None
    proc.stdin.close()  # what sshd does when wfrun dies or the connection drops
    proc.wait(timeout=15)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


# --------------------------------------------------------------------------- the agent


class _Agent:
    """``wire.AGENT`` under a local bash, reading both streams in threads."""

    def __init__(self) -> None:
        from workflow_runner.targets.ssh.wire import agent_program

        encoded = encode_program(agent_program())
        self.proc = subprocess.Popen(["bash", "-c", exec_command(encoded, login_shell_is_bash=True)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdin is not None
        self.proc.stdin.write(encoded + b"\0")
        self.proc.stdin.flush()

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def step(self, command: StepCommand, nonce: str) -> tuple[bytes, bytes]:
        """Output up to the end marker and control bytes up to ``E nonce``."""
        from workflow_runner.targets.ssh.wire import end_marker, request

        self.send(request(command, nonce))
        return self._until(self.proc.stdout, end_marker(nonce)), self._until(self.proc.stderr, f"@@wfrun E {nonce}\n".encode())

    @staticmethod
    def _until(stream, end: bytes) -> bytes:
        data = b""
        while not data.endswith(end):
            byte = stream.read(1)
            assert byte, f"stream ended before {end!r}: {data!r}"
            data += byte
        return data[: -len(end)]


def test_agent_runs_steps_in_turn_without_leaking_env_or_state(tmp_path: Path):
    agent = _Agent()
    try:
        out1, ctl1 = agent.step(_cmd(tmp_path, "echo one; X=1; printf partial", env={"SECRET": "s1"}), "n1")
        out2, ctl2 = agent.step(_cmd(tmp_path, 'echo "${SECRET-unset} ${X-unset}"; exit 4'), "n2")
    finally:
        agent.proc.kill()
    assert out1 == b"one\npartial" and ctl1 == b"@@wfrun X 0\n"
    assert out2 == b"unset unset\n" and ctl2 == b"@@wfrun X 4\n"


def test_agent_outputs_and_cwd_failure(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    agent = _Agent()
    try:
        _, ctl = agent.step(_cmd(tmp_path, 'printf "k=é\\nno-newline" > "$OUTPUTS"',
                                 env={"OUTPUTS": str(tmp_path / "out" / "OUTPUTS")}), "a")
        bad = StepCommand(script="echo ran", env={}, cwd=str(tmp_path / "file" / "sub"), outputs_file=str(tmp_path / "o"))
        out, ctl_bad = agent.step(bad, "b")
    finally:
        agent.proc.kill()
    assert ctl == "@@wfrun X 0\n@@wfrun O\nk=é\nno-newline\0".encode()
    assert b"ran" not in out and ctl_bad.startswith(b"@@wfrun C\n")


def test_agent_t_line_terminates_the_step_group_and_the_agent_goes_on(tmp_path: Path):
    agent = _Agent()
    try:
        agent.send(b"T\n")  # a stray cancel between steps is ignored
        from workflow_runner.targets.ssh.wire import end_marker, request

        agent.send(request(_cmd(tmp_path, "echo started; sleep 1009 & wait"), "c"))
        assert agent.proc.stdout is not None and agent.proc.stdout.readline() == b"started\n"
        agent.send(b"T\n")
        out = agent._until(agent.proc.stdout, end_marker("c"))
        ctl = agent._until(agent.proc.stderr, b"@@wfrun E c\n")
        assert out == b"" and ctl == b"@@wfrun X 143\n"
        out, ctl = agent.step(_cmd(tmp_path, "echo after"), "d")
        assert out == b"after\n" and ctl == b"@@wfrun X 0\n"
    finally:
        agent.proc.kill()


def test_agent_eof_on_stdin_kills_the_running_step_group(tmp_path: Path):
    from workflow_runner.targets.ssh.wire import request

    pidfile = tmp_path / "pid"
    agent = _Agent()
    agent.send(request(_cmd(tmp_path, f"trap '' TERM; sleep 1010 & echo $! > {pidfile}; wait", grace=1), "e"))
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child = int(pidfile.read_text())
    assert agent.proc.stdin is not None
    agent.proc.stdin.close()
    agent.proc.wait(timeout=15)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
