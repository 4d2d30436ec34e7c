"""A small generated egocentric dataset shared by the egovideo tests (rendered once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate

# 15 clips: one full primitive cycle (12 with phase balancing) in train plus three held-out clips.
SMALL = dict(num_clips=15, height=64, width=64, fps=24, clip_seconds=2.0, heldout_fraction=0.2, seed=0)


@pytest.fixture(scope="session")
def ego_cfg(tmp_path_factory: pytest.TempPathFactory) -> EgoVideoConfig:
    return EgoVideoConfig(out_dir=tmp_path_factory.mktemp("egovideo") / "ego", sequence_fraction=0.3, **SMALL)


@pytest.fixture(scope="session")
def ego_root(ego_cfg: EgoVideoConfig) -> Path:
    return generate(ego_cfg)
