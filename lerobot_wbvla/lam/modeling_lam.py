"""The latent action model: encoder tokens of (o_t, o_t+k) -> discrete latent action -> predicted change.

``LatentActionModel`` puts together
- a frozen ``FrameEncoder`` (loaded lazily: training from the feature cache never needs it),
- a ``FeatureNormalizer`` holding data statistics (per-channel mean/std of the tokens and std of their change),
- the dynamics (``mlp`` = the article's heads, ``st_transformer`` = UniVLA/Genie style, ``conv`` = a small conv
  net on the pixel image, lam/conv_dynamics.py),
- the ``VectorQuantizer``.

Why the loss looks the way it does. A LAM trained to predict feat_t+k from (feat_t, code) can get most of the
way by copying feat_t: between frames k apart almost nothing changes, so the reconstruction loss sits near the
copy baseline and the code carries little motion (measured on this project's generated video with the article's
plain recipe). Here the forward target is the change feat_t+k - feat_t divided by its per-channel std
(``predict_residual`` + ``normalize_target``): copying scores exactly the baseline loss (~1 when the change has
zero mean), so every bit of loss below it is motion put through the code.

What else makes the model look at what changed (each measured on the generated video, numbers in the docstrings
of the pieces): the inverse dynamics sees the normalised difference (``difference_input``) and a factored product
of both frames (``multiplicative_input``: motion is a relation between frames); the forward dynamics can warp
frame t along a predicted flow field (``decoder="warp"``, lam/warp.py) instead of writing the change pixel by
pixel; the pixel target can be block-averaged (``target_pool``); changed tokens can be up-weighted
(``change_weight``), or every element weighted by how much it changed (``motion_weight``: the conv model's
motion-weighted pixel loss). What the models do not get is a hand-made motion feature (optical flow, a cost volume): the
motion has to be learned, so a freshly initialised LAM's latent says little about it.

Files: ``save_pretrained(dir)`` writes ``config.json`` (the ``LAMConfig``) and ``model.safetensors`` (everything
but the frozen encoder, which ``config.json`` names by repo id/path and revision); ``from_pretrained`` takes a
local folder or a Hub repo id plus revision.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import draccus
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lerobot_wbvla.datasets.transforms import IMAGENET_STD
from lerobot_wbvla.lam.configuration_lam import (
    ConvLAMConfig,
    LAMConfig,
    MLPLAMConfig,
    PixelEncoderConfig,
    STTransformerLAMConfig,
)
from lerobot_wbvla.lam.conv_dynamics import ConvDynamics
from lerobot_wbvla.lam.encoders import FrameEncoder, encoder_token_shape, make_encoder
from lerobot_wbvla.lam.mlp_dynamics import MLPDynamics
from lerobot_wbvla.lam.quantizer import VectorQuantizer
from lerobot_wbvla.lam.st_transformer_dynamics import STTransformerDynamics
from lerobot_wbvla.lam.warp import grid_layout, warp_tokens

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class FeatureNormalizer(nn.Module):
    """Per-channel statistics of encoder tokens, measured once on training data and saved with the model."""

    def __init__(self, token_dim: int, target_dim: int | None = None) -> None:
        super().__init__()
        self.register_buffer("feat_mean", torch.zeros(token_dim))
        self.register_buffer("feat_std", torch.ones(token_dim))
        self.register_buffer("delta_std", torch.ones(token_dim))
        self.register_buffer("target_std", torch.ones(target_dim or token_dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @staticmethod
    def _rms(delta: torch.Tensor) -> torch.Tensor:
        # Root mean square rather than std: the target is the raw change, not the centred one.
        rms = delta.reshape(-1, delta.shape[-1]).pow(2).mean(0).sqrt()
        return rms.clamp_min(rms.mean() * 1e-2 + 1e-6)

    @torch.no_grad()
    def fit(
        self, tok_t: torch.Tensor, tok_tk: torch.Tensor, target_delta: torch.Tensor | None = None
    ) -> None:
        """Measure the statistics on a sample of pairs (B, N, D) each (and their change in target units)."""
        x = tok_t.float().reshape(-1, tok_t.shape[-1])
        delta = tok_tk.float() - tok_t.float()
        self.feat_mean.copy_(x.mean(0))
        self.feat_std.copy_(x.std(0).clamp_min(1e-4))
        self.delta_std.copy_(self._rms(delta))
        self.target_std.copy_(self._rms(delta if target_delta is None else target_delta.float()))
        self.fitted.fill_(True)

    def frame(self, tok: torch.Tensor) -> torch.Tensor:
        return (tok - self.feat_mean) / self.feat_std

    def delta(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> torch.Tensor:
        return (tok_tk - tok_t) / self.delta_std


@dataclass
class LatentAction:
    """The LAM's reading of a transition."""

    z: torch.Tensor  # (B, num_codes, latent_dim) continuous latent before quantisation
    z_q: torch.Tensor  # (B, num_codes, latent_dim) quantised latent (straight-through)
    indices: torch.Tensor  # (B, num_codes) code indices


class LatentActionModel(nn.Module):
    def __init__(self, config: LAMConfig, encoder: FrameEncoder | None = None) -> None:
        super().__init__()
        # Before the encoder is looked at: a conv model on hf_vision fails without reading the backbone's config.
        self._check_model_options(config)
        self.config = config
        # Kept out of the module tree (plain __dict__ entry): never saved, never trained, loaded on demand.
        self.__dict__["_encoder"] = encoder
        if encoder is not None:
            num_tokens, token_dim = encoder.num_tokens, encoder.token_dim
        else:  # from the encoder's config only: training from the feature cache never loads its weights
            num_tokens, token_dim = encoder_token_shape(config.encoder)
        self.num_tokens, self.token_dim = num_tokens, token_dim
        mcfg = config.model
        self.target_dim = self._check_target_pool(config, token_dim)
        self.normalizer = FeatureNormalizer(token_dim, self.target_dim)
        if isinstance(mcfg, STTransformerLAMConfig):
            self.dynamics: nn.Module = STTransformerDynamics(mcfg, num_tokens, token_dim, self.target_dim)
        elif isinstance(mcfg, MLPLAMConfig):
            self.dynamics = MLPDynamics(mcfg, num_tokens, token_dim, self.target_dim)
        elif isinstance(mcfg, ConvLAMConfig):
            self.dynamics = ConvDynamics(mcfg, config.encoder, self.target_dim)
        else:
            raise ValueError(
                f"unknown LAM model config {type(mcfg).__name__}; use mlp, st_transformer or conv"
            )
        self.quantizer = VectorQuantizer(
            mcfg.codebook_size, mcfg.latent_dim, mcfg.dead_code_threshold, cosine=mcfg.cosine_codes
        )
        if mcfg.decoder == "warp" and not mcfg.predict_residual:
            raise ValueError("lam.model.decoder=warp needs predict_residual=true")
        self._grid_layout = (
            grid_layout(config.encoder, num_tokens, token_dim) if mcfg.decoder == "warp" else None
        )

    @staticmethod
    def _check_model_options(config: LAMConfig) -> None:
        """Options that do not fit together fail here, each with one line naming the flag to change."""
        mcfg = config.model
        if mcfg.decoder not in ("direct", "warp"):
            raise ValueError(f"lam.model.decoder={mcfg.decoder!r}: use direct or warp")
        if mcfg.motion_weight not in ("none", "abs_change"):
            raise ValueError(f"lam.model.motion_weight={mcfg.motion_weight!r}: use none or abs_change")
        if mcfg.motion_weight != "none" and mcfg.change_weight > 0:
            raise ValueError(
                "lam.model.change_weight and lam.model.motion_weight both weight the loss; set one"
            )
        if mcfg.motion_weight != "none" and not mcfg.predict_residual:
            raise ValueError("lam.model.motion_weight needs lam.model.predict_residual=true")
        if isinstance(mcfg, ConvLAMConfig):
            if not isinstance(config.encoder, PixelEncoderConfig):
                raise ValueError(
                    f"lam.model.type=conv reads images and needs --lam.encoder.type=pixel "
                    f"(got {config.encoder.type}); use mlp or st_transformer on hf_vision features"
                )
            if mcfg.decoder != "direct" or not mcfg.predict_residual:
                raise ValueError(
                    "lam.model.type=conv predicts the change image: keep decoder=direct and predict_residual=true"
                )

    @staticmethod
    def _check_target_pool(config: LAMConfig, token_dim: int) -> int:
        pool = config.model.target_pool
        if pool == 1:
            return token_dim
        enc = config.encoder
        if not isinstance(enc, PixelEncoderConfig):
            raise ValueError(
                f"lam.model.target_pool={pool} needs the pixel encoder (its tokens are pixel patches)"
            )
        if pool < 1 or enc.patch_size % pool != 0:
            raise ValueError(
                f"lam.model.target_pool={pool} must divide lam.encoder.patch_size={enc.patch_size}"
            )
        return 3 * (enc.patch_size // pool) ** 2

    def target_tokens(self, tok: torch.Tensor) -> torch.Tensor:
        """Encoder tokens in the units the forward dynamics predicts (pixel blocks averaged by target_pool)."""
        pool = self.config.model.target_pool
        if pool == 1:
            return tok
        b, n, _ = tok.shape
        p = self.config.encoder.patch_size
        x = torch.nn.functional.avg_pool2d(tok.reshape(b * n, 3, p, p), pool)
        return x.reshape(b, n, self.target_dim)

    # ----------------------------------------------------------------------------------------------- encoder
    @property
    def encoder(self) -> FrameEncoder:
        """The frozen frame encoder, built on first use (a DINOv2 load is skipped when training from cache)."""
        if self.__dict__["_encoder"] is None:
            self.__dict__["_encoder"] = make_encoder(self.config.encoder)
        return self.__dict__["_encoder"]

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Normalised frames (B, 3, H, W) -> tokens (B, N, D) in float32."""
        enc = self.encoder
        param = next(enc.parameters(), None)
        if param is not None:
            frames = frames.to(param.device, param.dtype)
        return enc(frames).float()

    @torch.no_grad()
    def fit_normalizer(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> None:
        """Measure the data statistics the LAM normalises with, on a sample of training pairs."""
        tok_t, tok_tk = tok_t.float(), tok_tk.float()
        self.normalizer.fit(tok_t, tok_tk, self.target_tokens(tok_tk) - self.target_tokens(tok_t))

    # ---------------------------------------------------------------------------------------------- dynamics
    def encode_action(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> LatentAction:
        """Inverse dynamics + VQ on encoder tokens (B, N, D) of o_t and o_t+k."""
        n = self.normalizer
        z = self.dynamics.infer_latent(n.frame(tok_t), n.frame(tok_tk), n.delta(tok_t, tok_tk))
        z = self.quantizer.project(z)  # on the unit sphere with cosine codes
        q = self.quantizer(z)
        return LatentAction(z=z, z_q=q.z_q, indices=q.indices)

    def target(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> torch.Tensor:
        """What the forward dynamics predicts, in its (normalised) space."""
        mcfg, n = self.config.model, self.normalizer
        if mcfg.predict_residual:
            delta = self.target_tokens(tok_tk) - self.target_tokens(tok_t)
            return delta / n.target_std if mcfg.normalize_target else delta
        if mcfg.target_pool != 1:
            raise ValueError("target_pool > 1 needs predict_residual")
        return n.frame(tok_tk) if mcfg.normalize_target else tok_tk

    def predict_target(self, tok_t: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        """Forward dynamics output in target space (for the warping decoder: the change the warp makes plus the
        additive correction)."""
        direct, flow = self.dynamics.predict(self.normalizer.frame(tok_t), z_q)
        if flow is None:
            return direct
        mcfg, n = self.config.model, self.normalizer
        warped = warp_tokens(tok_t, flow, self._grid_layout)
        moved = self.target_tokens(warped) - self.target_tokens(tok_t)
        if mcfg.normalize_target:
            moved = moved / n.target_std
        return moved + direct

    def predict_next(self, tok_t: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        """Predicted tokens of o_t+k in the encoder's own units (B, N, target_dim): the encoder tokens, or with
        target_pool > 1 their block averages (``target_tokens``)."""
        mcfg, n = self.config.model, self.normalizer
        out = self.predict_target(tok_t, z_q)
        if mcfg.predict_residual:
            return self.target_tokens(tok_t) + (out * n.target_std if mcfg.normalize_target else out)
        return out * n.feat_std + n.feat_mean if mcfg.normalize_target else out

    def motion_weight(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> torch.Tensor | None:
        """Per-element weight of the forward loss (B, N, target_dim), or None with motion_weight="none".

        "abs_change": w = mean over colour channels of |x_t+k - x_t| + motion_weight_eps, per pixel of the target
        (after target_pool), in [0, 1] pixel units (the pixel tokens are ImageNet-normalised, so the change is
        scaled back by the channel std); for feature encoders the mean runs over a token's features.
        """
        mcfg = self.config.model
        if mcfg.motion_weight == "none":
            return None
        delta = self.target_tokens(tok_tk.float()) - self.target_tokens(tok_t.float())
        b, n, d = delta.shape
        if isinstance(self.config.encoder, PixelEncoderConfig):
            std = torch.tensor(IMAGENET_STD, dtype=delta.dtype, device=delta.device)
            per_pixel = (delta.reshape(b, n, 3, d // 3) * std[:, None]).abs().mean(2, keepdim=True)
            return (per_pixel + mcfg.motion_weight_eps).expand(b, n, 3, d // 3).reshape(b, n, d)
        return (delta.abs().mean(-1, keepdim=True) + mcfg.motion_weight_eps).expand(b, n, d)

    def forward_error(
        self, tok_t: torch.Tensor, tok_tk: torch.Tensor, indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-sample forward MSE in target space, with the inferred codes or with the given ``indices``."""
        if indices is None:
            indices = self.encode_action(tok_t, tok_tk).indices
        pred = self.predict_target(tok_t, self.quantizer.lookup(indices))
        return (pred - self.target(tok_t, tok_tk)).pow(2).flatten(1).mean(1)

    def compute_loss(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss = forward MSE + codebook_weight * codebook + commitment_weight * commitment, plus diagnostics.

        Returned keys: loss, forward_loss, codebook_loss, commitment_loss, copy_baseline_loss (the forward loss
        of predicting "no change", in the same units), indices, z.
        """
        mcfg = self.config.model
        tok_t, tok_tk = tok_t.float(), tok_tk.float()
        n = self.normalizer
        z = self.dynamics.infer_latent(n.frame(tok_t), n.frame(tok_tk), n.delta(tok_t, tok_tk))
        z = self.quantizer.project(z)
        q = self.quantizer(z)
        pred = self.predict_target(tok_t, q.z_q)
        target = self.target(tok_t, tok_tk)
        motion = self.motion_weight(tok_t, tok_tk)
        err = (pred - target).pow(2).mean(-1)  # (B, N)
        if motion is not None:
            forward_loss = (motion * (pred - target).pow(2)).sum() / motion.sum()
        elif mcfg.change_weight > 0:
            change = target.abs().mean(-1)
            weight = 1.0 + mcfg.change_weight * change / change.mean().clamp_min(1e-8)
            forward_loss = (err * weight).sum() / weight.sum()
        else:
            forward_loss = err.mean()
        with torch.no_grad():
            if motion is not None:  # in the units of forward_loss: the same weighting
                copy = (motion * target.pow(2)).sum() / motion.sum()
            elif mcfg.predict_residual:
                copy = target.pow(2).mean()
            else:
                copy = (self.target(tok_t, tok_t) - target).pow(2).mean()
        loss = (
            forward_loss + mcfg.codebook_weight * q.codebook_loss + mcfg.commitment_weight * q.commitment_loss
        )
        return {
            "loss": loss,
            "forward_loss": forward_loss,
            "codebook_loss": q.codebook_loss,
            "commitment_loss": q.commitment_loss,
            "copy_baseline_loss": copy,
            "indices": q.indices,
            "z": z,
        }

    def forward(self, tok_t: torch.Tensor, tok_tk: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss (``compute_loss``): ``forward`` is what DDP/Accelerate wrap."""
        return self.compute_loss(tok_t, tok_tk)

    # ------------------------------------------------------------------------------------------------- files
    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (atomically: a temp folder renamed into place)."""
        save_directory = Path(save_directory)
        save_directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{save_directory.name}.", dir=save_directory.parent))
        with open(tmp / CONFIG_NAME, "w") as f:
            json.dump(draccus.encode(self.config), f, indent=2)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        if save_directory.exists():
            # Keep other files a caller put there (model card, ...): replace ours only.
            for name in (CONFIG_NAME, WEIGHTS_NAME):
                os.replace(tmp / name, save_directory / name)
            tmp.rmdir()
        else:
            os.replace(tmp, save_directory)
        return save_directory

    @classmethod
    def from_pretrained(
        cls,
        repo_or_path: str | Path,
        revision: str | None = None,
        encoder: FrameEncoder | None = None,
        local_files_only: bool = False,
    ) -> LatentActionModel:
        """Load from a local folder or a Hub repo id at ``revision`` (branch, tag or commit)."""
        folder = resolve_lam_dir(repo_or_path, revision, local_files_only)
        config = load_lam_config(folder)
        model = cls(config, encoder=encoder)
        state = load_file(str(folder / WEIGHTS_NAME))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"LAM weights in {folder / WEIGHTS_NAME} do not match its config.json: missing {missing}, "
                f"unexpected {unexpected}"
            )
        model.eval()
        return model


def load_lam_config(folder: str | Path) -> LAMConfig:
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no LAM {CONFIG_NAME} in '{folder}': is this a LAM folder or repo?")
    with open(path) as f:
        return draccus.decode(LAMConfig, json.load(f))


def resolve_lam_dir(repo_or_path: str | Path, revision: str | None, local_files_only: bool = False) -> Path:
    """A local folder as is; otherwise download ``config.json`` + ``model.safetensors`` of the Hub repo."""
    path = Path(repo_or_path).expanduser()
    if path.is_dir():
        return path
    from lerobot_wbvla.hub import resolve_pretrained_dir  # noqa: PLC0415 (hub is optional until used)

    return Path(
        resolve_pretrained_dir(
            str(repo_or_path),
            revision=revision,
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "*.md"],
            local_files_only=local_files_only,
            kind="lam",
            required_files=[CONFIG_NAME, WEIGHTS_NAME],
        )
    )
