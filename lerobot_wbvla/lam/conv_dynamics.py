"""A small convolutional LAM on pixel frames: inverse dynamics on the image stack, forward dynamics x_t + deconv.

Why this model exists: an independent review trained a small conv LAM with a motion-weighted pixel loss on
egocentric video from another renderer and its latents carried the motion far better there (held-out z-probe 0.86,
code-probe 0.70) than the MLP preset's (0.71 / 0.44). Convolutions share their weights over the image, so a motion
(an edge moving by a few pixels) looks the same wherever it happens and whatever the room looks like; the MLP
heads learn a separate weight per patch position and partly learn the rooms.

The pixel encoder's tokens (B, N, 3 p^2) are folded back into the image (B, 3, S, S) they were cut from
(``warp.tokens_to_image``); the model never sees the patch grid.

- Inverse dynamics: the channel stack (x_t, x_t+k, x_t+k - x_t) (the difference with ``difference_input``;
  all three normalised as ``FeatureNormalizer`` does for every LAM) goes through stride-2 4x4 convs
  (``inverse_channels``), the last feature map is flattened and a linear layer gives z (num_codes x latent_dim).
  With ``multiplicative_input`` the first layer also gets a local factored product of both frames,
  W_o((A * x_t) . (B * x_t+k)) with A, B convs of the first layer's shape (Memisevic's gated relation, as the MLP
  model's ``FactoredProduct`` but over local windows): to first order the change is -gradient . motion, a product.
- Forward dynamics: x_t is encoded by stride-2 convs (``forward_channels``); the quantised action, projected to
  ``action_channels``, is broadcast over the smallest feature map and concatenated; transposed convs mirroring the
  encoder write the change image, so the prediction of x_t+k is x_t + deconv(features of x_t, z_q). Options:
  ``film`` scales/shifts every decoder layer by the action (products of image features and action, which
  concatenation can only reach through a nonlinearity), ``skip_connections`` adds the encoder's feature maps to
  the decoder's of the same size (U-Net style; sharper changes). The last layer starts at zero: the first
  prediction is "no change", the copy baseline.
- The loss (in ``modeling_lam``): MSE on the normalised change weighted per pixel by mean_c |x_t+k - x_t| + eps
  (``motion_weight``), so static background, most of every frame, does not drown out the moving edges.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from lerobot_wbvla.lam.configuration_lam import ConvLAMConfig, PixelEncoderConfig
from lerobot_wbvla.lam.warp import GridLayout, image_to_tokens, tokens_to_image


def _down(c_in: int, c_out: int) -> nn.Conv2d:
    """Stride-2 4x4 conv: halves the image side."""
    return nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)


def _up(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    """Stride-2 4x4 transposed conv: doubles the image side."""
    return nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1)


def check_conv_sizes(config: ConvLAMConfig, encoder: PixelEncoderConfig) -> None:
    """Every stride-2 layer must halve the image exactly (one clear error otherwise)."""
    for name, chans in (
        ("inverse_channels", config.inverse_channels),
        ("forward_channels", config.forward_channels),
    ):
        if not chans or any(c < 1 for c in chans):
            raise ValueError(f"lam.model.{name}={chans}: give at least one positive channel count")
        if encoder.image_size % (2 ** len(chans)) != 0:
            raise ValueError(
                f"lam.model.{name} has {len(chans)} stride-2 layers, so lam.encoder.image_size="
                f"{encoder.image_size} must be divisible by {2 ** len(chans)}; drop a layer or change the size"
            )


class ConvDynamics(nn.Module):
    """Inverse net (x_t, x_t+k[, d]) -> z (B, num_codes, latent_dim); forward net (x_t, z_q) -> change tokens."""

    def __init__(self, config: ConvLAMConfig, encoder: PixelEncoderConfig, out_dim: int) -> None:
        super().__init__()
        check_conv_sizes(config, encoder)
        self.config = config
        size, patch = encoder.image_size, encoder.patch_size
        self.layout = GridLayout(size // patch, 3, patch)
        self.out_patch = int(round((out_dim // 3) ** 0.5))  # patch side of the target (after target_pool)
        self.pool = patch // self.out_patch
        self.out_layout = GridLayout(size // patch, 3, self.out_patch)
        act_dim = config.num_codes * config.latent_dim

        # Inverse dynamics.
        inv = config.inverse_channels
        in_ch = 9 if config.difference_input else 6
        self.inv_first = _down(in_ch, inv[0])
        if config.multiplicative_input:
            factors = config.multiplicative_factors * inv[0]
            self.relate_a = _down(3, factors)
            self.relate_b = _down(3, factors)
            self.relate_out = nn.Conv2d(factors, inv[0], kernel_size=1)
        else:
            self.relate_a = self.relate_b = self.relate_out = None
        self.inv_rest = nn.ModuleList(_down(a, b) for a, b in zip(inv[:-1], inv[1:], strict=True))
        side = size // 2 ** len(inv)
        self.to_latent = nn.Linear(inv[-1] * side * side, act_dim)

        # Forward dynamics.
        fwd = config.forward_channels
        self.enc = nn.ModuleList(_down(a, b) for a, b in zip([3, *fwd[:-1]], fwd, strict=True))
        self.action_proj = nn.Linear(act_dim, config.action_channels)
        self.fuse = nn.Conv2d(fwd[-1] + config.action_channels, fwd[-1], kernel_size=3, padding=1)
        outs = [*fwd[-2::-1], fwd[0]]  # decoder widths, mirroring the encoder
        self.dec = nn.ModuleList(_up(a, b) for a, b in zip(fwd[::-1], outs, strict=True))
        self.film = (
            nn.ModuleList(nn.Linear(act_dim, 2 * c) for c in [fwd[-1], *outs[:-1]]) if config.film else None
        )
        if self.film is not None:  # start as the identity modulation
            for lin in self.film:
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        self.head = nn.Conv2d(fwd[0], 3, kernel_size=3, padding=1)
        nn.init.zeros_(self.head.weight)  # first prediction: no change (the copy baseline)
        nn.init.zeros_(self.head.bias)

    def infer_latent(self, x_t: torch.Tensor, x_tk: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        """Normalised tokens of both frames and their normalised difference -> z (B, num_codes, latent_dim)."""
        a, b = tokens_to_image(x_t, self.layout), tokens_to_image(x_tk, self.layout)
        stack = [a, b, tokens_to_image(diff, self.layout)] if self.config.difference_input else [a, b]
        h = self.inv_first(torch.cat(stack, dim=1))
        if self.relate_out is not None:
            h = h + self.relate_out(self.relate_a(a) * self.relate_b(b))
        h = F.gelu(h)
        for conv in self.inv_rest:
            h = F.gelu(conv(h))
        z = self.to_latent(h.flatten(1))
        return z.reshape(z.shape[0], self.config.num_codes, self.config.latent_dim)

    def predict(self, x_t: torch.Tensor, z_q: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Normalised tokens of frame t and the quantised action -> the change in target tokens (B, N, out_dim);
        no flow field (the conv model has no warping decoder)."""
        action = z_q.flatten(1)
        h = tokens_to_image(x_t, self.layout)
        skips = []
        for conv in self.enc:
            h = F.gelu(conv(h))
            skips.append(h)
        a = self.action_proj(action)[:, :, None, None].expand(-1, -1, h.shape[-2], h.shape[-1])
        h = F.gelu(self.fuse(torch.cat([h, a], dim=1)))
        for i, up in enumerate(self.dec):
            if self.config.skip_connections:
                h = h + skips[-1 - i]
            if self.film is not None:
                scale, shift = self.film[i](action)[:, :, None, None].chunk(2, dim=1)
                h = h * (1 + scale) + shift
            h = F.gelu(up(h))
        change = self.head(h)  # (B, 3, S, S)
        if self.pool > 1:
            change = F.avg_pool2d(change, self.pool)
        return image_to_tokens(change, self.out_layout), None
