"""Fixtures of the LAM tests: a tiny random DINOv2 saved like a Hub model, and a small generated video dataset."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dinov2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer DINOv2 (patch 14, width 32) saved with save_pretrained."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=224,
    )
    path = tmp_path_factory.mktemp("tiny_dinov2") / "dinov2-tiny"
    Dinov2Model(config).eval().save_pretrained(path)
    return path
