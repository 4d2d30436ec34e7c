"""The article's LAM as inverse/forward MLP heads, made to read motion.

The article's heads take one 768-d feature per frame. Here a frame is a grid of N tokens of size D (N = 1 for a
DINOv2 class token, which is the article's exact case). Each token is first projected to ``token_dim`` channels by
a shared linear layer and the projected tokens are flattened; this keeps the heads small for patch grids while
every location still has its own weights in the next layer.

Differences from the snippet, each for a reason (see ``LAMModelConfig``):
- the inverse head also sees the (normalised) difference of the two frames and a factored product of both frames
  (token by token), so the motion, a relation between the frames, is an explicit input instead of something
  the MLP has to discover;
- the forward head's target is the normalised change, not the next frame, so "copy the current frame" scores
  nothing and the only way to lower the loss is to put the motion into the code.
"""

from __future__ import annotations

import torch
from torch import nn

from lerobot_wbvla.lam.configuration_lam import MLPLAMConfig
from lerobot_wbvla.lam.st_transformer_dynamics import FactoredProduct


def _mlp(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    """Linear -> LayerNorm -> GELU for the first layer (as the article), Linear -> GELU after, then Linear out."""
    layers: list[nn.Module] = []
    prev = in_dim
    for i, h in enumerate(hidden):
        layers.append(nn.Linear(prev, h))
        if i == 0:
            layers.append(nn.LayerNorm(h))
        layers.append(nn.GELU())
        prev = h
    layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


class MLPDynamics(nn.Module):
    """Inverse head (x_t, x_t+k[, d]) -> z (B, num_codes, latent_dim); forward head (x_t, z_q) -> target."""

    def __init__(
        self, config: MLPLAMConfig, num_tokens: int, token_dim: int, out_dim: int | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.num_tokens = num_tokens
        self.token_dim = token_dim
        self.out_dim = out_dim or token_dim
        flat = num_tokens * config.token_dim
        self.proj_frame = nn.Linear(token_dim, config.token_dim)
        self.proj_diff = nn.Linear(token_dim, config.token_dim) if config.difference_input else None
        self.relate = (
            FactoredProduct(token_dim, config.token_dim, config.multiplicative_factors * config.token_dim)
            if config.multiplicative_input
            else None
        )
        n_streams = 2 + int(config.difference_input) + int(config.multiplicative_input)
        self.inverse_head = _mlp(
            flat * n_streams, config.inverse_hidden, config.num_codes * config.latent_dim
        )
        self.proj_context = nn.Linear(token_dim, config.token_dim)
        self.n_flow = 2 * config.flow_grid**2 if config.decoder == "warp" else 0
        self.forward_head = _mlp(
            flat + config.num_codes * config.latent_dim,
            config.forward_hidden,
            num_tokens * self.out_dim + self.n_flow,
        )
        if self.n_flow:  # start from "nothing moves": the warp is the identity until the code says otherwise
            last = self.forward_head[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def infer_latent(self, x_t: torch.Tensor, x_tk: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        """Normalised tokens of both frames and their normalised difference -> z (B, num_codes, latent_dim)."""
        parts = [self.proj_frame(x_t).flatten(1), self.proj_frame(x_tk).flatten(1)]
        if self.proj_diff is not None:
            parts.append(self.proj_diff(diff).flatten(1))
        if self.relate is not None:
            parts.append(self.relate(x_t, x_tk).flatten(1))
        z = self.inverse_head(torch.cat(parts, dim=-1))
        return z.reshape(z.shape[0], self.config.num_codes, self.config.latent_dim)

    def predict(self, x_t: torch.Tensor, z_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised tokens of frame t and the quantised action -> the target tokens (B, N, D) and, for the
        warping decoder, the flow field (B, 2, flow_grid, flow_grid)."""
        b = x_t.shape[0]
        out = self.forward_head(torch.cat([self.proj_context(x_t).flatten(1), z_q.flatten(1)], dim=-1))
        direct = out[:, self.n_flow :].reshape(b, self.num_tokens, self.out_dim)
        if not self.n_flow:
            return direct, None
        g = self.config.flow_grid
        return direct, out[:, : self.n_flow].reshape(b, 2, g, g)
