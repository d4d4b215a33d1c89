"""``wfrun validate`` errors for sessions, each at its file:line:col and naming the key (exit 2)."""

from __future__ import annotations

import pytest

from workflow_runner.sessions.spec import SpecError, session_spec


def validate(wfrun, write, text: str):
    return wfrun("validate", write("wf.yaml", text))


def update(with_: str, sessions: str = "sessions:\n  web: {redirect: true}\n") -> str:
    return f"""{sessions}jobs:
  a:
    steps:
      - uses: parallelworks/update-session
        with:
{with_}
"""


@pytest.mark.parametrize("value", ["http", "70000", "0", "-1", "8080x", "1.5", "²", "８０８０"])
def test_remote_port_that_is_not_a_port(wfrun, write, value):
    r = validate(wfrun, write, update(f"          name: ${{{{ sessions.web }}}}\n          remotePort: '{value}'"))
    assert r.code == 2, r.out + r.err
    shown = value if value.isascii() and value.isdigit() else f"'{value}'"
    assert r.err.strip().endswith(f"wf.yaml:9:23: remotePort: {shown} is not a port number (1-65535)"), r.err
    assert len(r.err.strip().splitlines()) == 1


def test_undeclared_session_name(wfrun, write):
    r = validate(wfrun, write, update("          name: ${{ sessions.webb }}\n          remotePort: 8080"))
    assert r.code == 2
    assert "wf.yaml:8:21: sessions.webb is not declared under the top-level 'sessions:' (did you mean 'web'?)" in r.err, r.err


def test_session_name_with_no_sessions_block(wfrun, write):
    r = validate(wfrun, write, update("          name: ${{ sessions.web }}\n          remotePort: 8080", sessions=""))
    assert r.code == 2
    assert "sessions.web is not declared under the top-level 'sessions:'" in r.err, r.err


def test_unknown_key_and_missing_port(wfrun, write):
    r = validate(wfrun, write, update("          name: ${{ sessions.web }}\n          remotePrt: 8080"))
    assert r.code == 2
    assert "wf.yaml:9:11: parallelworks/update-session has no input 'remotePrt' (did you mean 'remotePort'?)" in r.err
    assert "needs 'remotePort'" in r.err


def test_good_session_validates_without_the_platform_warning(wfrun, write):
    r = validate(wfrun, write, update("          name: ${{ sessions.web }}\n          remotePort: ${{ inputs.port }}\n"
                                      "          localPort: 0\n          slug: lab"))
    assert r.code == 0, r.err
    assert "platform" not in r.err


def test_run_time_values_are_checked_naming_the_key():
    with pytest.raises(SpecError) as exc:
        session_spec({"remotePort": "abc"}, {}, "s")
    assert exc.value.key == "remotePort"
    with pytest.raises(SpecError) as exc:
        session_spec({"remotePort": 80, "localPort": 99999}, {}, "s")
    assert exc.value.key == "localPort"
    spec = session_spec({"remotePort": "8888", "local_port": "0", "slug": "/lab?x=1", "status": "running"},
                        {"useTLS": "true", "redirect": False}, "s")
    assert spec.url(4242) == "https://127.0.0.1:4242/lab?x=1" and not spec.redirect and spec.remote_host == "localhost"
