# Sourced by demo.sh and test.sh: a virtualenv in .venv with the project and its pinned dependencies.
set -euo pipefail

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "StatusHub needs Python 3.11; found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> Creating virtualenv in .venv"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "==> Installing StatusHub and its pinned dependencies"
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet -e ".[dev]"
    rm -f .venv/.installed-* && touch "$stamp"
fi
