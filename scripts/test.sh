#!/usr/bin/env bash
# The project's test command: installs if needed, checks style, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
.venv/bin/ruff check lerobot_wbvla lerobot_policy_wbvla tests bench scripts
.venv/bin/ruff format --check lerobot_wbvla lerobot_policy_wbvla tests bench scripts
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=20 "$@"
