#!/usr/bin/env bash
# Creates (or refreshes) ./.venv-isaaclab: the separate venv for the Isaac Lab 3 task of the LMO
# (lerobot_wbvla/lmo/isaaclab, gym id WBVLA-LMO-X2-v0).
#
# Why a venv of its own: isaaclab 3.0.0 needs Python 3.12 and pins newton[sim]==1.6.1 (mujoco~=3.x, which replaces
# the project's mujoco 4 and mujoco-warp 4) and transformers 5.10 (outside the <5.6 pin of lerobot's smolvla
# extra). So the project is installed here with --no-deps beside lerobot's base extras; the task imports only the
# project's MJCF builder, the LMO layout and the array-generic MDP terms, never the wbvla policy.
# Time (measured, 2 busy cores): 3 min 15 s on a first install (8.7 GB), 25 s for a rerun; physics runs on CPU with
# Newton (isaacsim, the Kit app, is not installed and not needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${WBVLA_ISAACLAB_PYTHON:-/root/.pyenv/versions/3.12.1/bin/python}"
VENV="${WBVLA_ISAACLAB_VENV:-$PWD/.venv-isaaclab}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    echo "[setup_isaaclab] error: $PY is not a Python 3.12 (isaaclab 3.0.0 needs >=3.12,<3.13);" \
        "set WBVLA_ISAACLAB_PYTHON to one." >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup_isaaclab] creating $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip setuptools wheel
# isaaclab (Newton physics, warp-lang; rsl-rl-lib pinned as isaaclab pins it) plus the parts of lerobot the project's
# imports need (lerobot_wbvla.robots.agibot_x2 registers a LeRobot robot).
"$VENV/bin/pip" install -q "isaaclab==3.0.0" "rsl-rl-lib==5.5.1" "lerobot[training,dataset,dynamixel]==0.6.1" \
    "onnxruntime>=1.20" "pytest>=8"
# The MJCF -> USD importer Isaac Lab's MjcfConverter runs without Isaac Sim (isaacsim-asset-isolated and the
# mujoco-usd-converter it wraps). Not through isaaclab's own `importers` extra: as published, isaaclab 3.0.0 pins
# usd-exchange==3.0.1 and isaacsim-asset-isolated 6.2.0.0 pins usd-exchange==2.3.0, so pip cannot resolve
# `isaaclab[importers]==3.0.0`. The importer's packages go in without their pins (--no-deps) beside usd-exchange
# 3.0.1; measured: the X2's MJCF converts (~3 s) and the task runs. `pip check` keeps reporting those two pins.
"$VENV/bin/pip" install -q --no-deps "isaacsim-asset-isolated==6.2.0.0" "mujoco-usd-converter==0.6.1" \
    "isaacsim-robot-schema==6.2.0.0" "urdf-usd-converter==0.3.2" "usd-optimize==1.1.0" "tinyobjloader==2.0.0rc13"
"$VENV/bin/pip" install -q numpy-stl usd-validation-nvidia
# The project itself, editable, without its dependencies (mujoco 4 / mujoco-warp / transformers<5.6 would clash).
PYTHONWARNINGS=ignore "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c 'import isaaclab, newton, mujoco_usd_converter, isaacsim.asset.importer.mjcf, mujoco, torch, rsl_rl, lerobot_wbvla
from importlib.metadata import version as v
print("[setup_isaaclab] ready: isaaclab", v("isaaclab"), "newton", v("newton"), "mujoco", mujoco.__version__,
      "torch", torch.__version__, "rsl-rl-lib", v("rsl-rl-lib"), "| lerobot_wbvla from", lerobot_wbvla.__path__[0])'
