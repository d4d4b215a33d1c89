#!/usr/bin/env bash
# Set-up on a fresh machine: a virtual environment .venv in the checkout with wfrun
# installed in it (editable), made with python3 (>= 3.11; Debian 12's own is enough).
# A virtual environment because Debian's python3 refuses `pip install` outside one
# (PEP 668, "externally-managed-environment"). When the venv module is missing
# (minimal Debian images lack python3-venv) it is installed with apt-get as root.
#
#   bash scripts/setup.sh           # wfrun
#   bash scripts/setup.sh --test    # wfrun and its test dependencies, and Debian's chromium for the
#                                   # browser test of `wfrun serve`'s pages (Playwright drives it; we never
#                                   # run `playwright install`, which downloads browsers)
#
# Afterwards: .venv/bin/wfrun …, or `. .venv/bin/activate` to have wfrun on PATH.
# PYTHON=/path/to/python3 picks another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3.11 or newer" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: wfrun needs Python 3.11 or newer, $python is $("$python" -V 2>&1)" >&2; exit 1; }

if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  else
    echo "setup: $python has no venv module; install it (Debian/Ubuntu: sudo apt-get install python3-venv)" >&2
    exit 1
  fi
fi

# a .venv left by another interpreter (or a failed set-up) is made again
if ! .venv/bin/python -c 'import pip' 2>/dev/null; then
  "$python" -m venv --clear .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
# editable installs are not byte-compiled, and PYTHONDONTWRITEBYTECODE may be set
.venv/bin/python -m compileall -q workflow_runner

# the pages' browser test (tests/integration/test_webui_browser.py) fails without it: never skipped
if [ -n "$extras" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup: the browser test needs chromium; install it (Debian: sudo apt-get install --no-install-recommends chromium)" >&2
  fi
fi
