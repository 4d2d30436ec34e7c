"""Warping decoder support: move the tokens of frame t by a predicted flow field.

Why: almost all of the change between two egocentric frames is the image moving (turning, stepping, squatting
shift and stretch the view; a reaching arm moves across it). A decoder that has to write that change pixel by pixel
from (frame, code) must learn "shift this image by that much" as a bilinear function of image and action, which an
MLP learns slowly and poorly (measured: ~15% of the change explained after thousands of steps on the generated
video). With `decoder="warp"` the forward head instead predicts a coarse flow field (plus a small additive
correction for what warping cannot explain, e.g. new content); the frame is resampled along it
(`grid_sample`, differentiable), so the code only has to say how things move. The same holds for a grid of
DINOv2 patch features, which move with the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812

from lerobot_wbvla.lam.configuration_lam import EncoderConfig, HFVisionEncoderConfig, PixelEncoderConfig


@dataclass(frozen=True)
class GridLayout:
    """How a frame's tokens tile its image: grid x grid tokens, each `channels` x patch x patch values."""

    grid: int
    channels: int
    patch: int


def grid_layout(encoder: EncoderConfig, num_tokens: int, token_dim: int) -> GridLayout:
    if isinstance(encoder, PixelEncoderConfig):
        return GridLayout(encoder.image_size // encoder.patch_size, 3, encoder.patch_size)
    if isinstance(encoder, HFVisionEncoderConfig) and encoder.tokens == "patch":
        grid = int(round(num_tokens**0.5))
        return GridLayout(grid, token_dim, 1)
    raise ValueError(
        "decoder='warp' needs tokens on a spatial grid: the pixel encoder or hf_vision with tokens='patch'"
    )


def tokens_to_image(tok: torch.Tensor, layout: GridLayout) -> torch.Tensor:
    """(B, g*g, C*p*p) -> (B, C, g*p, g*p)."""
    b = tok.shape[0]
    g, c, p = layout.grid, layout.channels, layout.patch
    return tok.reshape(b, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, c, g * p, g * p)


def image_to_tokens(img: torch.Tensor, layout: GridLayout) -> torch.Tensor:
    """(B, C, g*p, g*p) -> (B, g*g, C*p*p)."""
    b = img.shape[0]
    g, c, p = layout.grid, layout.channels, layout.patch
    return img.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * p * p)


def warp_tokens(tok: torch.Tensor, flow: torch.Tensor, layout: GridLayout) -> torch.Tensor:
    """Resample frame tokens along `flow` (B, 2, h, w): for every output pixel, where to read in the frame, as an
    (x, y) offset in grid_sample units (the image spans [-1, 1]); upsampled bilinearly to the image size."""
    img = tokens_to_image(tok, layout)
    b, _, size, _ = img.shape
    flow = F.interpolate(flow, size=(size, size), mode="bilinear", align_corners=False)
    ys, xs = torch.meshgrid(
        torch.linspace(-1 + 1 / size, 1 - 1 / size, size, device=tok.device, dtype=tok.dtype),
        torch.linspace(-1 + 1 / size, 1 - 1 / size, size, device=tok.device, dtype=tok.dtype),
        indexing="ij",
    )
    base = torch.stack([xs, ys], dim=-1)[None]  # (1, S, S, 2), x first as grid_sample wants
    grid = base + flow.permute(0, 2, 3, 1)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return image_to_tokens(out, layout)
