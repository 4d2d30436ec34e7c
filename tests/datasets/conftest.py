"""Fixtures of the datasets tests (helpers live in ds_synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ds_synthetic import CLIP_LABELS, write_labels, write_square_video


@pytest.fixture
def ego_root(tmp_path: Path) -> Path:
    """A folder in the egovideo generator's format (docs/CONTRACTS.md): clips/*.mp4 + labels.jsonl."""
    root = tmp_path / "ego"
    for clip, (labels, _) in CLIP_LABELS.items():
        write_square_video(root / clip, len(labels), fps=30)
    write_labels(root, CLIP_LABELS)
    return root
