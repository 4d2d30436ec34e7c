"""Frame preprocessing for frozen image encoders: resize (shorter side), center crop, ImageNet normalisation.

The seed article feeds its ViT `Resize(224) -> CenterCrop(224) -> ToTensor -> Normalize(ImageNet)`. This is the
same recipe as one vectorised torch function over a whole batch (no PIL per frame), on CPU or GPU. Its
settings are part of a feature cache's identity (`to_dict`), so a cache built with another transform is refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_uint8_bchw(frames: torch.Tensor, layout: str = "auto") -> torch.Tensor:
    """Return uint8 frames as (B, 3, H, W) from (H, W, 3), (B, H, W, 3), (3, H, W) or (B, 3, H, W).

    `layout` "auto" reads channels-last when the last dim is 3 and channels-first when dim -3 is 3; pass "HWC" or
    "CHW" when both are 3.
    """
    if frames.dtype != torch.uint8:
        raise TypeError(f"Expected uint8 frames, got {frames.dtype}.")
    if frames.ndim == 3:
        frames = frames.unsqueeze(0)
    if frames.ndim != 4:
        raise ValueError(
            f"Expected frames of shape (H, W, 3), (B, H, W, 3), (3, H, W) or (B, 3, H, W), got {tuple(frames.shape)}."
        )
    if layout == "auto":
        last, third = frames.shape[-1] == 3, frames.shape[-3] == 3
        if last and third:
            raise ValueError(
                f"Ambiguous frame layout for shape {tuple(frames.shape)}: pass layout='HWC' or 'CHW'."
            )
        if not (last or third):
            raise ValueError(f"Frames of shape {tuple(frames.shape)} have no 3-channel axis (RGB expected).")
        layout = "HWC" if last else "CHW"
    if layout == "HWC":
        return frames.permute(0, 3, 1, 2)
    if layout == "CHW":
        return frames
    raise ValueError(f"layout must be 'auto', 'HWC' or 'CHW', got {layout!r}.")


@dataclass(frozen=True)
class FrameTransform:
    """uint8 RGB frames -> normalised float32 (B, 3, crop, crop) for an image encoder.

    resize: target length of the shorter side (None: no resize). crop: side of the center crop (None: no crop).
    mean/std: per-channel normalisation of [0, 1] values (ImageNet by default, as the article and DINOv2/ViT).
    """

    resize: int | None = 224
    crop: int | None = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    antialias: bool = True

    @classmethod
    def of_size(cls, size: int) -> FrameTransform:
        """The article's recipe at another resolution: shorter side to `size`, center crop `size`."""
        return cls(resize=size, crop=size)

    def __call__(self, frames: torch.Tensor, layout: str = "auto") -> torch.Tensor:
        """Transform uint8 frames (HWC / BHWC / CHW / BCHW) into float32 (B, 3, crop, crop), or (3, crop, crop)
        when a single frame was given."""
        single = frames.ndim == 3
        x = to_uint8_bchw(frames, layout).to(torch.float32).div_(255.0)
        if self.resize is not None:
            x = F.resize(
                x, [self.resize], interpolation=F.InterpolationMode.BILINEAR, antialias=self.antialias
            )
        if self.crop is not None:
            h, w = x.shape[-2:]
            if self.crop > min(h, w):
                raise ValueError(f"Center crop {self.crop} is larger than the resized frame {h}x{w}.")
            x = F.center_crop(x, [self.crop, self.crop])
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        return x[0] if single else x

    def to_dict(self) -> dict[str, Any]:
        """JSON-able identity of this transform (stored in feature-cache indices)."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameTransform:
        return cls(
            resize=d["resize"],
            crop=d["crop"],
            mean=tuple(d["mean"]),
            std=tuple(d["std"]),
            antialias=d.get("antialias", True),
        )
