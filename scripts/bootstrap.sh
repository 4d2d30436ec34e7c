#!/usr/bin/env bash
# One command on a fresh machine: install everything, then run the main job on its embedded default
# (generate egocentric video, train a LAM on it, evaluate it, print where the model went).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
exec .venv/bin/wbvla-demo "$@"
