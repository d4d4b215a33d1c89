"""The SSH target against a real OpenSSH server (tests/infra/sshd.sh), no mocks.

Every remote step runs as the unprivileged test user; the process table of
that user is the evidence that cancellation leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest

from workflow_runner.errors import TargetError
from workflow_runner.targets.base import StepCommand
from workflow_runner.targets.hostspec import HostSpec, parse_host
from workflow_runner.targets.ssh import SSHPool, bootstrap

try:
    from .ssh_env import (SSHEnv, read_env, remote_dir, run, server_connection_pids, signal_pids, sshd,
                          ssh_env, step, user_processes, wait_for_processes)
except ImportError:  # tests/integration is not a package: pytest put its directory on sys.path
    from ssh_env import (SSHEnv, read_env, remote_dir, run, server_connection_pids, signal_pids, sshd,  # noqa: F401
                         ssh_env, step, user_processes, wait_for_processes)


async def collect(target, command: StepCommand):
    lines: list[str] = []
    result = await target.run(command, lines.append)
    return result, lines


# --------------------------------------------------------------------------- no server needed


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("node1", HostSpec("node1")),
        ("node1:2222", HostSpec("node1", port=2222)),
        ("alice@node1", HostSpec("node1", user="alice")),
        ("alice@node1:22", HostSpec("node1", user="alice", port=22)),
        ("a.b@c@node1:22", HostSpec("node1", user="a.b@c", port=22)),
        ("[::1]:2222", HostSpec("::1", port=2222)),
        ("bob@[fe80::1]", HostSpec("fe80::1", user="bob")),
        ("::1", HostSpec("::1")),
    ],
)
def test_parse_host(spec, expected):
    assert parse_host(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "invalid SSH host '': expected host, host:port or user@host[:port]"),
        ("node1:abc", "invalid SSH host 'node1:abc': port 'abc' is not a number from 1 to 65535"),
        ("node1:70000", "invalid SSH host 'node1:70000': port '70000' is not a number from 1 to 65535"),
        ("@node1", "invalid SSH host '@node1': empty user name before '@'"),
        ("alice@:22", "invalid SSH host 'alice@:22': empty host name"),
        ("[::1", "invalid SSH host '[::1': missing ']'"),
    ],
)
def test_parse_host_errors(spec, message):
    with pytest.raises(TargetError) as info:
        parse_host(spec)
    assert str(info.value) == message


def test_explicit_user_and_port_win_over_the_spec():
    assert parse_host("alice@node1:22", user="bob", port=2200) == HostSpec("node1", user="bob", port=2200)
    assert str(HostSpec("::1", user="bob", port=22)) == "bob@[::1]:22"


def test_pool_caches_targets_per_key():
    pool = SSHPool()
    assert pool.target("u@h:22") is pool.target("h", user="u", port=22)
    assert pool.target("u@h:22") is not pool.target("u@h:22", jump="j")
    assert pool.target("u@h:22", jump="j").name == "u@h:22 via j"


def test_bootstrap_is_valid_bash():
    command = step("echo 'it''s' \"$HOME\"\ncat <<'EOF'\n$x\nEOF", env={"A": "x'y", "B-C": "1"})
    subprocess.run(["bash", "-n"], input=bootstrap(command), text=True, check=True)


# --------------------------------------------------------------------------- against sshd


@pytest.mark.ssh
class TestRun:
    def test_sequential_steps_share_one_agent_and_nothing_leaks_between_them(self, ssh_env: SSHEnv, remote_dir):
        """A steady-state step runs in the slot's agent session (same parent shell), not a new sshd session;
        one step's env and shell state do not reach the next."""

        async def main():
            pool = ssh_env.pool(channels_per_connection=1, connections_per_host=1)
            try:
                target = pool.target(ssh_env.spec)
                first = await collect(target, step("echo $PPID; LOCAL=1; cd /", cwd=remote_dir, env={"LEAK": "x"}))
                second = await collect(target, step('echo $PPID; echo "${LEAK-unset} ${LOCAL-unset}"; pwd',
                                                    cwd=remote_dir))
                return first, second, target.stats.extra["connections_opened"]
            finally:
                await pool.aclose()

        (r1, l1), (r2, l2), opened = run(main())
        assert r1.exit_code == 0 and r2.exit_code == 0 and opened == 1
        assert l1[0] == l2[0], "both steps ran under the same agent shell"
        assert l2[1:] == ["unset unset", remote_dir]

    def test_step_ends_when_its_main_process_ends_even_if_a_detached_child_keeps_stdout(self, ssh_env: SSHEnv,
                                                                                      remote_dir):
        """The rule of the local target too: a process that left the step's group (setsid) does not keep
        the step open by holding its stdout."""

        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                started = time.monotonic()
                result = await collect(target, step("setsid sleep 1011 & echo main-done", cwd=remote_dir))
                elapsed = time.monotonic() - started
                after = await collect(target, step("echo next", cwd=remote_dir))
                return result, elapsed, after
            finally:
                await pool.aclose()

        try:
            (result, lines), elapsed, (after, after_lines) = run(main())
        finally:
            for line in user_processes(ssh_env.user, "^sleep 1011$"):
                subprocess.run(["kill", "-9", line.split()[0]], check=False)
        assert result.exit_code == 0 and lines == ["main-done"]
        assert elapsed < 8, f"the step waited for the detached child ({elapsed:.1f} s)"
        assert after.exit_code == 0 and after_lines == ["next"]

    @pytest.mark.parametrize("direct", [True, False], ids=["login-shell-sources", "bootstrap-via-cat"])
    def test_script_runs_unchanged(self, ssh_env: SSHEnv, remote_dir, direct):
        script = (
            "echo \"double $((1+2))\" 'single $HOME' \\$dollar `echo back`tick\n"
            "cat <<'EOF'\n$NOT_EXPANDED \"q\" 'q' \\n\nEOF\n"
            "cat <<EOF\nexpanded=$GREETING\nEOF\n"
            "printf '%s\\n' 'ünïcødé ✓ 日本'\n"
            "read -r line; echo \"stdin: $? [$line]\"\n"  # the script gets /dev/null, not itself
            "echo \"0=$0 source=[${BASH_SOURCE[0]-}] dir=$(dirname \"${BASH_SOURCE[0]-}\")\"\n"  # as bash -c shows them
            "echo no-newline-at-end"
        )
        expected = [
            "double 3 single $HOME $dollar backtick",
            "$NOT_EXPANDED \"q\" 'q' \\n",
            "expanded=héllo",
            "ünïcødé ✓ 日本",
            "stdin: 1 []",
            "0=bash source=[] dir=.",
            "no-newline-at-end",
        ]

        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                assert (await target.home()).startswith("/")
                (conn,) = target.host.connections
                assert conn.direct, "the test user's login shell is bash"
                conn.direct = direct  # as if the login shell were not bash
                return await collect(target, step(script, cwd=remote_dir, env={"GREETING": "héllo"}))
            finally:
                await pool.aclose()

        result, lines = run(main())
        assert result.exit_code == 0 and result.message is None
        assert lines == expected

    def test_env_cwd_and_outputs(self, ssh_env: SSHEnv, remote_dir):
        cwd = f"{remote_dir}/a/b c"
        outputs = f"{remote_dir}/out/step.outputs"
        env = {"PLAIN": "v", "TRICKY": "it's \"$HOME\" `x` \\ \n second ✓", "EMPTY": "", "ODD-NAME": "o"}
        script = (
            "pwd\n"
            "printf '[%s]\\n' \"$PLAIN\" \"$TRICKY\" \"$EMPTY\"\n"
            "env | grep '^ODD-NAME='\n"
            "echo \"name=value\" >> \"$OUTPUTS\"\n"
            "printf 'multi<<EOF\\nx\\ny\\nEOF\\n' >> \"$OUTPUTS\"\n"
        )

        async def main():
            pool = ssh_env.pool()
            try:
                return await collect(pool.target(ssh_env.spec), step(script, cwd=cwd, env=env, outputs=outputs))
            finally:
                await pool.aclose()

        result, lines = run(main())
        assert lines == [cwd, "[v]", "[it's \"$HOME\" `x` \\ ", " second ✓]", "[]", "ODD-NAME=o"]
        assert result.exit_code == 0
        assert result.outputs_text == "name=value\nmulti<<EOF\nx\ny\nEOF\n"

    @pytest.mark.parametrize("code", [0, 1, 3, 42, 255])
    def test_exit_code_is_exact(self, ssh_env: SSHEnv, code):
        async def main():
            pool = ssh_env.pool()
            try:
                return await collect(pool.target(ssh_env.spec), step(f"echo before; exit {code}"))
            finally:
                await pool.aclose()

        result, lines = run(main())
        assert (result.exit_code, lines, result.outputs_text, result.message) == (code, ["before"], "", None)

    def test_stdout_and_stderr_stream_live_in_order(self, ssh_env: SSHEnv):
        seen: list[tuple[float, str]] = []

        async def main():
            pool = ssh_env.pool()
            try:
                start = time.monotonic()
                result = await pool.target(ssh_env.spec).run(
                    step("echo out1; echo err1 >&2; echo out2; sleep 1.5; echo late"),
                    lambda line: seen.append((time.monotonic() - start, line)),
                )
                return result, time.monotonic() - start
            finally:
                await pool.aclose()

        result, total = run(main())
        assert [line for _, line in seen] == ["out1", "err1", "out2", "late"]
        assert seen[0][0] < total - 1.0, "first line arrived only at the end: output is not streamed"

    def test_quick_steps_show_only_their_own_output(self, ssh_env: SSHEnv, remote_dir):
        """A step that ends at once must not race the remote shell into printing job notices ("[1]+ Done")."""

        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                results = []
                for _ in range(300):
                    results.append(await collect(target, step("echo one", cwd=remote_dir)))
                return results
            finally:
                await pool.aclose()

        results = run(main())
        assert [lines for _, lines in results if lines != ["one"]] == []

    @pytest.mark.parametrize("lines", [1000, 2000])
    def test_long_scripts(self, ssh_env: SSHEnv, remote_dir, lines):
        """~70 kB and ~140 kB (over one argv string's 128 KiB): all of it runs, read from a pipe."""
        filler = "".join(f": line {i} {'x' * 60}\n" for i in range(lines))
        script = filler + 'echo "last line after $LINENO lines, from $0"'

        async def main():
            pool = ssh_env.pool()
            try:
                return await collect(pool.target(ssh_env.spec), step(script, cwd=remote_dir))
            finally:
                await pool.aclose()

        result, output = run(main())
        assert result.exit_code == 0
        assert output == [f"last line after {lines + 1} lines, from bash"]

    @pytest.mark.parametrize("direct", [True, False], ids=["login-shell-sources", "bootstrap-via-cat"])
    def test_script_and_env_never_in_a_command_line(self, ssh_env: SSHEnv, remote_dir, direct):
        """Every user of the host can read command lines (ps): secrets in a script or env must not be there."""
        secret = "s3cr3t-" + os.urandom(6).hex()
        script = f'echo "token {secret}" >/dev/null; sleep 2; echo done'

        def leaked() -> list[str]:
            hits = []
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            if secret.encode() in f.read():
                                hits.append(pid)
                    except OSError:
                        pass
            return hits

        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                await target.home()
                (conn,) = target.host.connections
                conn.direct = direct
                task = asyncio.ensure_future(collect(target, step(script, cwd=remote_dir, env={"API_KEY": secret})))
                seen: list[list[str]] = []
                for _ in range(10):
                    await asyncio.sleep(0.1)
                    seen.append(leaked())
                return await task, seen
            finally:
                await pool.aclose()

        (result, output), seen = run(main())
        assert result.exit_code == 0 and output == ["done"]
        assert seen == [[]] * 10

    def test_missing_working_directory_that_cannot_be_created(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool()
            try:
                return await collect(pool.target(ssh_env.spec), step("echo never", cwd="/root/forbidden/x"))
            finally:
                await pool.aclose()

        result, lines = run(main())
        assert result.exit_code == 1
        assert result.message == f"cannot create or enter working directory /root/forbidden/x on {ssh_env.spec}"
        assert "never" not in lines and any("Permission denied" in line for line in lines)

    def test_home_is_remote_home(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                return await target.home(), await target.home()
            finally:
                await pool.aclose()

        assert run(main()) == (f"/home/{ssh_env.user}", f"/home/{ssh_env.user}")

    def test_one_connection_is_reused_by_sequential_steps(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec)
                codes = [(await target.run(step(f"exit {i % 3}"), lambda _: None)).exit_code for i in range(30)]
                return codes, target.stats
            finally:
                await pool.aclose()

        codes, stats = run(main())
        assert codes == [i % 3 for i in range(30)]
        assert stats.commands == 30 and stats.extra["connections_opened"] == 1


@pytest.mark.ssh
class TestConcurrency:
    def test_50_concurrent_steps_respect_the_channel_cap(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool(channels_per_connection=4, connections_per_host=4)
            try:
                target = pool.target(ssh_env.spec)
                results = await asyncio.gather(
                    *(collect(target, step(f"sleep 0.2; echo step{i}; exit {i % 5}")) for i in range(50))
                )
                return results, target.stats
            finally:
                await pool.aclose()

        results, stats = run(main())
        assert [(r.exit_code, lines) for r, lines in results] == [(i % 5, [f"step{i}"]) for i in range(50)]
        assert stats.extra["peak_channels_per_connection"] <= 4
        assert 2 <= stats.extra["connections_opened"] <= 4, "more concurrency should open more connections"
        assert stats.extra["peak_connections"] <= 4

    def test_single_connection_queues_steps(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool(channels_per_connection=2, connections_per_host=1)
            try:
                target = pool.target(ssh_env.spec)
                results = await asyncio.gather(*(target.run(step("sleep 0.1"), lambda _: None) for _ in range(10)))
                return results, target.stats
            finally:
                await pool.aclose()

        results, stats = run(main())
        assert all(r.exit_code == 0 for r in results)
        assert stats.extra["peak_channels_per_connection"] == 2 and stats.extra["connections_opened"] == 1

    def test_refused_channel_opens_are_retried(self, ssh_env: SSHEnv):
        """Cap = MaxSessions (10): sshd refuses some opens under churn; none reaches the caller."""

        async def main():
            pool = ssh_env.pool(channels_per_connection=10, connections_per_host=1)
            try:
                target = pool.target(ssh_env.spec)
                results = await asyncio.gather(*(target.run(step("true"), lambda _: None) for _ in range(300)))
                return results, target.stats
            finally:
                await pool.aclose()

        results, stats = run(main())
        assert all(r.exit_code == 0 for r in results)
        print("channel open retries:", stats.retries)


@pytest.mark.ssh
class TestCancel:
    def _cancel(self, ssh_env: SSHEnv, script: str, pattern: str, count: int, *, grace: float, hurry_after=None):
        async def main():
            pool = ssh_env.pool()
            hurry = asyncio.Event()
            try:
                target = pool.target(ssh_env.spec)
                task = asyncio.create_task(target.run(step(script, grace=grace, hurry=hurry), lambda _: None))
                running = await wait_for_processes(ssh_env.user, pattern, count)
                assert len(running) == count, running
                start = time.monotonic()
                task.cancel()
                if hurry_after is not None:
                    await asyncio.sleep(hurry_after)
                    hurry.set()
                with pytest.raises(asyncio.CancelledError):
                    await task
                elapsed = time.monotonic() - start
                # the connection is still usable afterwards
                after = await target.run(step("echo alive"), lambda _: None)
                return elapsed, after
            finally:
                await pool.aclose()

        elapsed, after = run(main())
        assert after.exit_code == 0
        assert user_processes(ssh_env.user, pattern) == []
        return elapsed

    def test_cancel_terminates_the_whole_remote_group(self, ssh_env: SSHEnv):
        elapsed = self._cancel(ssh_env, "sleep 1001 & sleep 1002; wait", "^sleep 100[12]$", 2, grace=5)
        assert elapsed < 2, f"SIGTERM should end it at once, took {elapsed:.2f}s"

    def test_cancel_kills_after_grace_when_term_is_ignored(self, ssh_env: SSHEnv):
        elapsed = self._cancel(ssh_env, "trap '' TERM; sleep 1003 & sleep 1004; wait", "^sleep 100[34]$", 2, grace=1.5)
        assert 1.4 < elapsed < 4, elapsed

    def test_hurry_cuts_the_grace_period(self, ssh_env: SSHEnv):
        elapsed = self._cancel(ssh_env, "trap '' TERM; sleep 1005", "^sleep 1005$", 1, grace=30, hurry_after=0.3)
        assert elapsed < 3, elapsed

    def test_loop_teardown_during_grace_still_kills(self, ssh_env: SSHEnv):
        """asyncio.run() returning with the cancelled step un-awaited cancels the cleanup itself: SIGKILL at once."""
        pattern = "^sleep 100[9]$"

        async def main():
            pool = ssh_env.pool()
            target = pool.target(ssh_env.spec)
            task = asyncio.create_task(target.run(step("trap '' TERM; sleep 1009", grace=30), lambda _: None))
            assert len(await wait_for_processes(ssh_env.user, pattern, 1)) == 1
            task.cancel()
            await asyncio.sleep(0.3)  # inside the grace period; then leave without awaiting the task

        start = time.monotonic()
        run(main())
        assert time.monotonic() - start < 5
        assert user_processes(ssh_env.user, pattern) == []

    def test_failing_output_callback_stops_the_step(self, ssh_env: SSHEnv):
        def on_output(line: str) -> None:
            raise RuntimeError(f"callback failed on {line!r}")

        async def main():
            pool = ssh_env.pool()
            try:
                with pytest.raises(RuntimeError, match="callback failed on 'hi'"):
                    await pool.target(ssh_env.spec).run(step("echo hi; sleep 1008"), on_output)
            finally:
                await pool.aclose()

        run(main())
        assert user_processes(ssh_env.user, "^sleep 1008$") == []

    def test_pool_close_kills_steps_still_running(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool()
            target = pool.target(ssh_env.spec)
            task = asyncio.create_task(target.run(step("sleep 1006 & sleep 1007; wait"), lambda _: None))
            assert len(await wait_for_processes(ssh_env.user, "^sleep 100[67]$", 2)) == 2
            await pool.aclose()
            return await asyncio.wait_for(task, 10)

        result = run(main())
        assert result.exit_code == 255
        assert result.message == f"connection to {ssh_env.spec} lost: the run's SSH pool was closed while the step ran"
        assert (user_processes(ssh_env.user, "^sleep 100[67]$")) == []


@pytest.mark.ssh
class TestConnectionErrors:
    def _error(self, ssh_env: SSHEnv, pool: SSHPool, spec: str | None = None) -> str:
        async def main():
            try:
                with pytest.raises(TargetError) as info:
                    await pool.target(spec or ssh_env.spec).run(step("true"), lambda _: None)
                return str(info.value)
            finally:
                await pool.aclose()

        message = run(main())
        assert "\n" not in message and "Traceback" not in message
        return message

    def test_unknown_host_key_is_refused(self, ssh_env: SSHEnv, tmp_path: Path):
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        message = self._error(ssh_env, ssh_env.pool(known_hosts=str(empty)))
        assert message.startswith(f"ssh {ssh_env.spec}: host key not verifiable (unknown or changed host key; "
                                  f"not trusted by known_hosts {empty})")

    def test_changed_host_key_is_refused(self, ssh_env: SSHEnv, tmp_path: Path):
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
        changed = tmp_path / "known_hosts"
        changed.write_text(f"[{ssh_env.host}]:{ssh_env.port} {other}\n")
        message = self._error(ssh_env, ssh_env.pool(known_hosts=str(changed)))
        assert message.startswith(f"ssh {ssh_env.spec}: host key not verifiable")

    def test_insecure_opt_out_skips_the_check(self, ssh_env: SSHEnv, tmp_path: Path):
        empty = tmp_path / "known_hosts"
        empty.write_text("")

        async def main():
            pool = ssh_env.pool(known_hosts=str(empty), insecure_no_host_key_check=True)
            try:
                return await pool.target(ssh_env.spec).run(step("exit 7"), lambda _: None)
            finally:
                await pool.aclose()

        assert run(main()).exit_code == 7

    def test_wrong_client_key_is_refused(self, ssh_env: SSHEnv, tmp_path: Path):
        key = tmp_path / "id_other"
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
        message = self._error(ssh_env, ssh_env.pool(client_keys=[str(key)]))
        assert message.startswith(f"ssh {ssh_env.spec}: authentication failed")

    def test_nothing_listening(self, ssh_env: SSHEnv):
        message = self._error(ssh_env, ssh_env.pool(), spec=f"{ssh_env.user}@127.0.0.1:1")
        assert message == f"ssh {ssh_env.user}@127.0.0.1:1: cannot connect: Connection refused"

    def test_silent_listener_times_out(self, ssh_env: SSHEnv):
        with socket.socket() as listener:  # accepts TCP (backlog) but never says a word of SSH
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            start = time.monotonic()
            message = self._error(ssh_env, ssh_env.pool(connect_timeout=1), spec=f"{ssh_env.user}@127.0.0.1:{port}")
            elapsed = time.monotonic() - start
        assert message == f"ssh {ssh_env.user}@127.0.0.1:{port}: connection timed out after 1 s"
        assert elapsed < 3

    def test_concurrent_steps_share_one_connect_failure(self, ssh_env: SSHEnv, tmp_path: Path):
        empty = tmp_path / "known_hosts"
        empty.write_text("")

        async def main():
            pool = ssh_env.pool(known_hosts=str(empty))
            try:
                target = pool.target(ssh_env.spec)
                results = await asyncio.gather(*(target.run(step("true"), print) for _ in range(20)),
                                               return_exceptions=True)
                return results, target.stats
            finally:
                await pool.aclose()

        results, stats = run(main())
        assert all(isinstance(r, TargetError) for r in results)
        assert stats.extra["connections_opened"] == 0


@pytest.mark.ssh
@pytest.mark.slow
class TestLostConnection:
    """The remote processes of a step whose connection is lost cannot be signalled; the test kills them."""

    @staticmethod
    async def _started(target, command: StepCommand) -> asyncio.Task:
        started = asyncio.Event()

        def on_output(line: str) -> None:
            if line == "started":
                started.set()

        task = asyncio.create_task(target.run(command, on_output))
        await asyncio.wait_for(started.wait(), 10)
        return task

    def test_sshd_stopped_during_a_step(self, ssh_env: SSHEnv):
        sleep = f"sleep 30.{os.getpid()}"

        async def main():
            pool = ssh_env.pool(keepalive_interval=1)
            try:
                target = pool.target(ssh_env.spec)
                task = await self._started(target, step(f"echo started; {sleep}"))
                start = time.monotonic()
                await asyncio.to_thread(sshd, "stop")
                result = await asyncio.wait_for(task, 20)
                elapsed = time.monotonic() - start
                await asyncio.to_thread(sshd, "start")
                again = await target.run(step("echo reconnected"), lambda _: None)
                return result, elapsed, again, target.stats
            finally:
                await pool.aclose()

        try:
            result, elapsed, again, stats = run(main())
        finally:
            sshd("start")
            _kill_leftovers(ssh_env, f"^{sleep}$")
        assert result.exit_code == 255
        assert result.message == f"connection to {ssh_env.spec} lost: closed by the server or the network"
        assert elapsed < 20
        assert again.exit_code == 0
        assert stats.extra["connections_opened"] == 2 and stats.extra["connections_lost"] == 1

    def test_silent_server_is_noticed_by_keepalive(self, ssh_env: SSHEnv):
        """The server's connection processes are frozen (SIGSTOP): no FIN, no RST — only keepalives tell."""
        frozen: list[int] = []
        sleep = f"sleep 8.{os.getpid()}"

        async def main():
            pool = ssh_env.pool(keepalive_interval=1, keepalive_count_max=2)
            try:
                target = pool.target(ssh_env.spec)
                task = await self._started(target, step(f"echo started; {sleep}"))
                frozen.extend(server_connection_pids())
                signal_pids(frozen, signal.SIGSTOP)
                start = time.monotonic()
                result = await asyncio.wait_for(task, 20)
                return result, time.monotonic() - start
            finally:
                signal_pids(frozen, signal.SIGCONT)
                await pool.aclose()

        try:
            result, elapsed = run(main())
        finally:
            _kill_leftovers(ssh_env, f"^{sleep}$")
        assert result.exit_code == 255
        assert result.message == f"connection to {ssh_env.spec} lost: Server not responding to keepalive"
        assert elapsed < 6, elapsed


def _kill_leftovers(ssh_env: SSHEnv, pattern: str) -> None:
    for line in user_processes(ssh_env.user, pattern):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.mark.ssh
class TestHostSelection:
    def test_jump_host(self, ssh_env: SSHEnv):
        async def main():
            pool = ssh_env.pool()
            try:
                target = pool.target(ssh_env.spec, jump=ssh_env.spec)
                result, lines = await collect(target, step("echo via jump; echo $SSH_CONNECTION"))
                return result, lines, target.name, len(pool._jumps)
            finally:
                await pool.aclose()

        result, lines, name, jumps = run(main())
        assert result.exit_code == 0 and lines[0] == "via jump"
        assert name == f"{ssh_env.spec} via {ssh_env.spec}" and jumps == 1

    @pytest.mark.parametrize("alias", ["wfrun-alias", "wfrun-behind-jump"])
    def test_ssh_config_alias(self, ssh_env: SSHEnv, tmp_path: Path, alias):
        """Host, HostName, Port, User, IdentityFile, UserKnownHostsFile and ProxyJump come from ~/.ssh/config."""
        config = tmp_path / "config"
        common = (f"  HostName {ssh_env.host}\n  Port {ssh_env.port}\n  User {ssh_env.user}\n"
                  f"  IdentityFile {ssh_env.key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {ssh_env.known_hosts}\n")
        config.write_text(f"Host wfrun-alias\n{common}\nHost wfrun-behind-jump\n{common}  ProxyJump wfrun-alias\n")

        async def main():
            pool = SSHPool(config_paths=[str(config)])
            try:
                return await collect(pool.target(alias), step("whoami"))
            finally:
                await pool.aclose()

        result, lines = run(main())
        assert (result.exit_code, lines) == (0, [ssh_env.user])
