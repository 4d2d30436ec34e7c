#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and links it as ./.venv.
#
# The venv lives outside the clone, keyed by a hash of pyproject.toml, so a fresh clone on a machine that already
# installed the same dependencies reuses them (CI clones anew on every run). The project itself is (re)installed
# editable into it on every call (a few seconds), so the venv always points at *this* clone.
set -euo pipefail
cd "$(dirname "$0")/.."

export PYENV_VERSION="${PYENV_VERSION:-$(cat .python-version)}"
PY="${WBVLA_PYTHON:-python3.12}"
CACHE_ROOT="${WBVLA_CACHE:-$HOME/.cache/lerobot-wbvla}"
KEY=$(sha256sum pyproject.toml | cut -c1-16)
VENV="$CACHE_ROOT/venv-$KEY"

if [ ! -f "$VENV/.complete" ]; then
    echo "[setup] creating $VENV (first install on this machine: ~3 min, ~6 GB)"
    rm -rf "$VENV"
    mkdir -p "$CACHE_ROOT"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
    # Everything pyproject.toml declares, including the test extra.
    "$VENV/bin/pip" install -q -e ".[test]"
    touch "$VENV/.complete"
else
    echo "[setup] reusing $VENV"
fi
# Point the venv's editable install at this clone (no dependency resolution: fast).
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
ln -sfn "$VENV" .venv
echo "[setup] ready: $(.venv/bin/python -c 'import lerobot, torch, mujoco; print("lerobot", lerobot.__version__, "torch", torch.__version__, "mujoco", mujoco.__version__)')"
