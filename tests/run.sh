#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (root): sets up .venv with wfrun and
# its test dependencies (scripts/setup.sh), installs and starts the real OpenSSH server
# and the real single-node Slurm (slurmctld, slurmd, slurmdbd + MariaDB, PBS wrappers)
# that the integration tests use, then runs pytest in .venv; its exit code is this
# script's. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# pgrep (procps) checks the process tables for leftovers in the cancel tests
command -v pgrep >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends procps; }
# Debian's chromium for the browser test of `wfrun serve`'s pages (setup.sh --test installs it too)
[ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
bash scripts/setup.sh --test
bash tests/infra/sshd.sh start
bash tests/infra/slurm.sh start
exec .venv/bin/python -m pytest -q -ra "$@"
