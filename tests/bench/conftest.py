"""The benchmark tests import `bench/_results.py` (shared with the bench scripts, which run with bench/ on their
path) as the module `_results`."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
# pytest runs with --import-mode=importlib (no sys.path changes): make bench/_results.py importable by the tests.
sys.path.insert(0, str(BENCH))
