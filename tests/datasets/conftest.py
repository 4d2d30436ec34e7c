"""Fixtures of the datasets tests (helpers live in ds_synthetic.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib (no sys.path changes): make the helper module importable by the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ds_synthetic import CLIP_LABELS, write_labels, write_square_video  # noqa: E402


@pytest.fixture
def ego_root(tmp_path: Path) -> Path:
    """A folder in the egovideo generator's format (docs/CONTRACTS.md): clips/*.mp4 + labels.jsonl."""
    root = tmp_path / "ego"
    for clip, (labels, _) in CLIP_LABELS.items():
        write_square_video(root / clip, len(labels), fps=30)
    write_labels(root, CLIP_LABELS)
    return root
