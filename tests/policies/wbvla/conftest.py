"""Tiny random VLM fixtures of the wbvla tests (built offline once per session by `build_tiny_vlm`)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_vlm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """family -> folder of a tiny (~0.2M parameter) random VLM with its processor, for every buildable family."""
    from lerobot_wbvla.policies.wbvla.tiny_vlm import FAMILIES, build_tiny_vlm

    root = tmp_path_factory.mktemp("tiny_vlms")
    return {family: build_tiny_vlm(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def tiny_qwen2_vl_dir(tiny_vlm_dirs: dict[str, Path]) -> Path:
    """The tiny Qwen2-VL folder (the family of the article's backbone)."""
    return tiny_vlm_dirs["qwen2_vl"]
