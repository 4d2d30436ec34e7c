#!/usr/bin/env bash
# Creates (or refreshes) this clone's virtual environment ./.venv.
#
# What is heavy is shared, what is yours is not:
# - the dependencies (torch, lerobot, mujoco, ... ~6 GB) live once per machine in a cached "deps" venv keyed by a
#   hash of pyproject.toml (CI clones anew on every run and reuses them); the project itself is never installed
#   there;
# - ./.venv is a small venv of this clone: a .pth line puts the cached dependencies on its path, the project is
#   installed into it in editable mode, and the dependencies' commands (lerobot-record, pytest, ...) get copies in
#   .venv/bin that run .venv/bin/python. So `.venv/bin/wbvla-*`, `.venv/bin/lerobot-*` and `.venv/bin/python
#   bench/...` always run the code of *this* clone, however many clones share the cache.
# Video: LeRobot decodes with torchcodec, which needs FFmpeg's shared libraries. Where they are missing and this
# script may install system packages (root with apt-get), it installs them; otherwise LeRobot falls back to pyav.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$(pwd -P)"

export PYENV_VERSION="${PYENV_VERSION:-$(cat .python-version)}"
PY="${WBVLA_PYTHON:-python3.12}"
CACHE_ROOT="${WBVLA_CACHE:-$HOME/.cache/lerobot-wbvla}"
# The dependencies pyproject.toml declares (+ the test extra) and the Python version key the shared venv: editing
# anything else in pyproject.toml (a console script, a tool setting) reuses it.
REQUIREMENTS=$("$PY" -c '
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print(f"# python {sys.version_info[0]}.{sys.version_info[1]}")
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
')
KEY=$(printf '%s\n' "$REQUIREMENTS" | sha256sum | cut -c1-16)
DEPS="$CACHE_ROOT/deps-$KEY"
VENV="$HERE/.venv"
mkdir -p "$CACHE_ROOT"

# ---------------------------------------------------------------- 1. the shared dependencies (once per machine)
install_deps() {
    echo "[setup] installing the dependencies into $DEPS (first install on this machine: ~3 min, ~6 GB)"
    rm -rf "$DEPS"
    "$PY" -m venv "$DEPS"
    "$DEPS/bin/pip" install -q --upgrade pip setuptools wheel
    # Everything pyproject.toml declares (dependencies + the test extra), but not the project itself.
    printf '%s\n' "$REQUIREMENTS" > "$DEPS/requirements.txt"
    "$DEPS/bin/pip" install -q -r "$DEPS/requirements.txt"
    touch "$DEPS/.complete"
}
(
    flock 9  # two clones setting up at once: one installs, the other waits and reuses
    if [ ! -f "$DEPS/.complete" ]; then install_deps; else echo "[setup] reusing the dependencies in $DEPS"; fi
) 9> "$CACHE_ROOT/.lock-$KEY"

# ---------------------------------------------------------------- 2. FFmpeg libraries for torchcodec
if ! "$DEPS/bin/python" -c "import torchcodec" > /dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        echo "[setup] installing FFmpeg's shared libraries (apt-get) so that LeRobot can decode video with torchcodec"
        apt-get install -y -qq --no-install-recommends libavcodec59 libavformat59 libavutil57 libswscale6 \
            libswresample4 libavdevice59 libavfilter8 > /dev/null 2>&1 \
            || { apt-get update -qq > /dev/null 2>&1 && apt-get install -y -qq --no-install-recommends \
                libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8 \
                > /dev/null 2>&1; } || true
    fi
    if ! "$DEPS/bin/python" -c "import torchcodec" > /dev/null 2>&1; then
        echo "[setup] note: torchcodec cannot load FFmpeg's shared libraries here; LeRobot decodes video with pyav" \
            "(install FFmpeg 4-7 libraries, e.g. 'apt-get install ffmpeg', to use torchcodec)."
    fi
fi

# ---------------------------------------------------------------- 3. this clone's venv
SITE_REL="lib/python$("$DEPS/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages"
if [ -L "$VENV" ] || { [ -e "$VENV" ] && [ "$(cat "$VENV/.wbvla-deps" 2>/dev/null)" != "$DEPS" ]; }; then
    rm -rf "$VENV"  # an older layout (a link to a shared venv) or other dependencies
fi
if [ ! -f "$VENV/.wbvla-deps" ]; then
    "$DEPS/bin/python" -m venv --without-pip "$VENV"
    echo "import site; site.addsitedir('$DEPS/$SITE_REL')" > "$VENV/$SITE_REL/_wbvla_deps.pth"
    # The dependencies' commands, run by this venv's python (binaries such as ruff are linked as they are).
    for src in "$DEPS"/bin/*; do
        name=$(basename "$src")
        case "$name" in python* | activate* | Activate.ps1) continue ;; esac
        if head -c 2 "$src" | grep -q '^#!' && head -n 1 "$src" | grep -q "^#!$DEPS/bin/python"; then
            { echo "#!$VENV/bin/python"; tail -n +2 "$src"; } > "$VENV/bin/$name"
            chmod +x "$VENV/bin/$name"
        else
            ln -sfn "$src" "$VENV/bin/$name"
        fi
    done
    echo "$DEPS" > "$VENV/.wbvla-deps"
fi
# The project, editable, into this clone's venv only (no dependency resolution: a few seconds).
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
echo "[setup] ready: $("$VENV/bin/python" -c 'import lerobot, torch, mujoco, lerobot_wbvla; print("lerobot", lerobot.__version__, "torch", torch.__version__, "mujoco", mujoco.__version__, "| lerobot_wbvla from", lerobot_wbvla.__path__[0])')"
