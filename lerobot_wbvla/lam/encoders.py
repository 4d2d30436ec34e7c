"""Frame encoders of the LAM: normalised frames (B, 3, H, W) -> tokens (B, N, D).

Both encoders are fixed functions (no trainable parameters), so their output can be computed once per frame
and stored in the feature cache; everything the LAM learns sits after them:
- ``HFVisionEncoder`` runs a frozen pretrained backbone (DINOv2 by default, as the WholeBodyVLA paper and
  UniVLA use) and returns its patch tokens (optionally average-pooled to a coarser grid) or its class token.
- ``PixelEncoder`` resizes the frame to a low resolution and cuts it into patches. The LAM's first layer (a
  learned linear patch embedding) is then the image encoder, trained end to end with the rest, which is how
  Genie and LAPA build their pixel LAMs. Use it where no pretrained weights are at hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from lerobot_wbvla.lam.configuration_lam import EncoderConfig, HFVisionEncoderConfig, PixelEncoderConfig


class FrameEncoder(nn.Module):
    """Base class: a frozen map from frames to a fixed number of tokens of a fixed size."""

    num_tokens: int
    token_dim: int

    def cache_signature(self) -> dict:
        """What identifies this encoder's output; a feature cache built by another encoder must not be reused."""
        raise NotImplementedError

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class PixelEncoder(FrameEncoder):
    """Area-resize to ``image_size`` and cut into ``patch_size`` patches: (B, 3, H, W) -> (B, (S/p)^2, 3p^2)."""

    def __init__(self, config: PixelEncoderConfig) -> None:
        super().__init__()
        if config.image_size % config.patch_size != 0:
            raise ValueError(
                f"pixel encoder: image_size {config.image_size} is not divisible by patch_size "
                f"{config.patch_size}; pick sizes such as image_size=64, patch_size=8"
            )
        self.config = config
        self.grid = config.image_size // config.patch_size
        self.num_tokens = self.grid * self.grid
        self.token_dim = 3 * config.patch_size * config.patch_size

    def cache_signature(self) -> dict:
        return {"type": "pixel", "image_size": self.config.image_size, "patch_size": self.config.patch_size}

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if frames.shape[-2:] != (size, size):
            frames = F.interpolate(frames.float(), size=(size, size), mode="area")
        p = self.config.patch_size
        b, c, _, _ = frames.shape
        x = frames.reshape(b, c, self.grid, p, self.grid, p)
        x = x.permute(0, 2, 4, 1, 3, 5).reshape(b, self.num_tokens, self.token_dim)
        return x.contiguous()


def _looks_like_local_path(name: str) -> bool:
    """A Hub repo id is ``name`` or ``owner/name``; anything else (absolute, ./, ~, deeper) is meant as a path."""
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or os.sep != "/"
        and os.sep in name
        or Path(name).exists()
    )


def _check_local_folder(pretrained: str) -> Path | None:
    """The folder when ``pretrained`` is meant as a path (after checking it is a model folder), else None."""
    if not _looks_like_local_path(pretrained):
        return None
    path = Path(pretrained).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"LAM encoder: the folder '{pretrained}' does not exist. Pass --lam.encoder.pretrained=<folder "
            f"with config.json and model weights> or a Hub repo id such as facebook/dinov2-base."
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"LAM encoder: '{pretrained}' has no config.json; save the vision model there with "
            f"save_pretrained() or pass a Hub repo id."
        )
    return path


class EncoderUnavailableError(OSError):
    """A pretrained encoder is neither a local folder nor loadable from the Hub or its cache.

    `problem` says why (offline and not cached, no such repo, Hub unreachable) and `fill` how to get the files;
    the message ends with the fix of the `wbvla-train-lam` flag. Commands where another flag names the encoder
    (`wbvla-lam-label --lam`: the LAM's config.json names it) re-raise it with `for_flag`.
    """

    def __init__(self, pretrained: str, problem: str, fill: str, remedy: str) -> None:
        super().__init__(f"{problem}. {fill}{remedy}")
        self.pretrained, self.problem, self.fill = pretrained, problem, fill

    def for_flag(self, flag: str, remedy: str) -> EncoderUnavailableError:
        return EncoderUnavailableError(self.pretrained, f"{flag}: {self.problem}", self.fill, remedy)


def _from_pretrained(loader, pretrained: str, revision: str | None):
    path = _check_local_folder(pretrained)
    if path is not None:
        return loader.from_pretrained(str(path))
    try:
        return loader.from_pretrained(pretrained, revision=revision)
    except OSError as err:
        from huggingface_hub import constants

        where = f"LAM encoder '{pretrained}' (revision {revision or 'main'})"
        fill = f"`hf download {pretrained}{' --revision ' + revision if revision else ''}`"
        remedy = " or pass --lam.encoder.pretrained=<local folder with the model's config.json and weights>."
        if (
            constants.is_offline_mode()
        ):  # not "check your internet connection": there is no connection to check
            raise EncoderUnavailableError(
                pretrained,
                f"{where} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and offline mode is on "
                "(HF_HUB_OFFLINE=1)",
                f"Fill the cache on a machine with network ({fill} with the same HF_HOME), or unset HF_HUB_OFFLINE,",
                remedy,
            ) from err
        raise EncoderUnavailableError(
            pretrained,
            f"{where} could not be loaded from {constants.ENDPOINT} or the cache ({' '.join(str(err).split())})",
            f"Check the repo id and the network, then fill the cache ({fill}),",
            remedy,
        ) from err


def load_hf_vision_backbone(pretrained: str, revision: str | None = None) -> nn.Module:
    """Load a transformers vision model from a local folder or a Hub repo id, with errors that name the input."""
    from transformers import AutoModel

    return _from_pretrained(AutoModel, pretrained, revision)


@dataclass(frozen=True)
class TokenLayout:
    """How a ViT backbone's output is cut into the LAM's tokens."""

    input_size: int  # frames are resized to input_size x input_size
    grid: int  # patch grid side at input_size
    num_tokens: int
    token_dim: int


def hf_token_layout(config: HFVisionEncoderConfig, backbone_config) -> TokenLayout:
    """Token layout from the backbone's config alone (no weights needed)."""
    if config.tokens not in ("patch", "cls"):
        raise ValueError(f"hf_vision encoder: tokens must be 'patch' or 'cls', got '{config.tokens}'")
    bcfg = getattr(backbone_config, "vision_config", backbone_config)
    image_size = int(getattr(bcfg, "image_size", 224))
    # DINOv2 is trained at 518 px but runs at any size; the datasets' transforms give 224 px frames.
    input_size = 224 if image_size > 224 and "dinov2" in bcfg.model_type else image_size
    grid = input_size // int(bcfg.patch_size)
    if config.tokens == "cls":
        num_tokens = 1
    elif config.pool_grid:
        if config.pool_grid > grid:
            raise ValueError(f"hf_vision encoder: pool_grid {config.pool_grid} > patch grid {grid}")
        num_tokens = config.pool_grid**2
    else:
        num_tokens = grid**2
    return TokenLayout(input_size, grid, num_tokens, int(bcfg.hidden_size))


def encoder_token_shape(config: EncoderConfig) -> tuple[int, int]:
    """(num_tokens, token_dim) of an encoder config, without loading any weights."""
    if isinstance(config, PixelEncoderConfig):
        enc = PixelEncoder(config)
        return enc.num_tokens, enc.token_dim
    if isinstance(config, HFVisionEncoderConfig):
        from transformers import AutoConfig

        layout = hf_token_layout(config, _from_pretrained(AutoConfig, config.pretrained, config.revision))
        return layout.num_tokens, layout.token_dim
    raise ValueError(f"unknown LAM encoder config {type(config).__name__}; use hf_vision or pixel")


class HFVisionEncoder(FrameEncoder):
    """Frozen transformers vision backbone -> patch tokens (optionally pooled) or the class token."""

    def __init__(self, config: HFVisionEncoderConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.backbone = (
            backbone if backbone is not None else load_hf_vision_backbone(config.pretrained, config.revision)
        )
        self.backbone.eval()
        self.backbone.requires_grad_(False)
        layout = hf_token_layout(config, self.backbone.config)
        self.input_size, self.grid = layout.input_size, layout.grid
        self.num_tokens, self.token_dim = layout.num_tokens, layout.token_dim

    def train(self, mode: bool = True) -> HFVisionEncoder:
        super().train(mode)
        self.backbone.eval()  # frozen: never switch dropout/droppath on
        return self

    def cache_signature(self) -> dict:
        return {
            "type": "hf_vision",
            "pretrained": self.config.pretrained,
            "revision": self.config.revision,
            "tokens": self.config.tokens,
            "pool_grid": self.config.pool_grid,
        }

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.shape[-2:] != (self.input_size, self.input_size):
            frames = F.interpolate(frames.float(), size=(self.input_size, self.input_size), mode="bilinear")
        hidden = self.backbone(pixel_values=frames).last_hidden_state  # (B, prefix + grid^2, D)
        if self.config.tokens == "cls":
            return hidden[:, :1]
        patches = hidden[:, -self.grid * self.grid :]
        if self.config.pool_grid and self.config.pool_grid != self.grid:
            b, n, d = patches.shape
            grid = patches.transpose(1, 2).reshape(b, d, self.grid, self.grid)
            grid = F.adaptive_avg_pool2d(grid, self.config.pool_grid)
            patches = grid.flatten(2).transpose(1, 2)
        return patches.contiguous()


def make_encoder(config: EncoderConfig) -> FrameEncoder:
    """Build the encoder named by ``config.type``."""
    if isinstance(config, PixelEncoderConfig):
        return PixelEncoder(config)
    if isinstance(config, HFVisionEncoderConfig):
        return HFVisionEncoder(config)
    raise ValueError(f"unknown LAM encoder config {type(config).__name__}; use hf_vision or pixel")
