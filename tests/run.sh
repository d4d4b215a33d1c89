#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (root): installs wfrun and its
# test dependencies, installs and starts the real OpenSSH server and the real
# single-node Slurm (slurmctld, slurmd, slurmdbd + MariaDB, PBS wrappers) that the
# integration tests use, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# pgrep (procps) checks the process tables for leftovers in the cancel tests
command -v pgrep >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends procps; }
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
python3 -m compileall -q workflow_runner   # editable installs are not byte-compiled; PYTHONDONTWRITEBYTECODE may be set
bash tests/infra/sshd.sh start
bash tests/infra/slurm.sh start
exec python3 -m pytest -q -ra "$@"
