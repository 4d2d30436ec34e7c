"""Train-time augmentation of cached pixel tokens: mirror and recolour both frames of a pair the same way.

Why: a LAM trained on a few hundred clips learns to recognise the rooms instead of the motion (measured on the
generated video: even a supervised motion classifier with the LAM's encoder reaches ~0.95 on train clips but
~0.6 on held-out clips). Motion does not depend on the colours of a room, and a mirrored pair is a valid pair
(a left turn becomes a right turn), so the same random horizontal flip and per-channel gain/offset applied to
both frames multiplies the appearances the LAM sees without changing what it has to explain. Works on the pixel
encoder's tokens directly (they are patches of normalised pixels), so training still reads the feature cache.
"""

from __future__ import annotations

import torch

from lerobot_wbvla.lam.configuration_lam import EncoderConfig, PixelEncoderConfig


def _to_images(tok: torch.Tensor, grid: int, p: int) -> torch.Tensor:
    b = tok.shape[0]
    return tok.reshape(b, grid, grid, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, grid * p, grid * p)


def _to_tokens(img: torch.Tensor, grid: int, p: int) -> torch.Tensor:
    b = img.shape[0]
    return img.reshape(b, 3, grid, p, grid, p).permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, 3 * p * p)


def augment_pixel_pairs(
    tok_t: torch.Tensor,
    tok_tk: torch.Tensor,
    encoder: EncoderConfig,
    generator: torch.Generator,
    flip_prob: float = 0.5,
    gain: float = 0.2,
    offset: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal flip and per-channel gain in [1-gain, 1+gain] / offset in [-offset, offset]
    (normalised units), drawn per pair and applied identically to both frames."""
    if not isinstance(encoder, PixelEncoderConfig):
        raise ValueError(
            "train-time augmentation works on the pixel encoder's tokens only; turn --augment off for "
            f"the {encoder.type} encoder (its cached features cannot be recoloured)."
        )
    p = encoder.patch_size
    grid = encoder.image_size // p
    b = tok_t.shape[0]
    imgs = _to_images(torch.cat([tok_t, tok_tk]), grid, p)
    flip = torch.rand(b, generator=generator) < flip_prob
    g = 1 + (torch.rand(b, 3, 1, 1, generator=generator) * 2 - 1) * gain
    o = (torch.rand(b, 3, 1, 1, generator=generator) * 2 - 1) * offset
    flip, g, o = flip.to(imgs.device), g.to(imgs), o.to(imgs)
    flip2, g2, o2 = flip.repeat(2), g.repeat(2, 1, 1, 1), o.repeat(2, 1, 1, 1)
    imgs = torch.where(flip2[:, None, None, None], imgs.flip(-1), imgs) * g2 + o2
    out = _to_tokens(imgs, grid, p)
    return out[:b], out[b:]
