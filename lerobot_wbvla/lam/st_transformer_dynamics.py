"""Spatio-temporal transformer LAM after UniVLA and Genie.

Inverse dynamics: the patch tokens of o_t and o_t+k (each linearly embedded, plus a learned position and frame
embedding) are extended, per frame, with ``num_codes`` learnable action-query tokens. Each block runs spatial
attention inside a frame, then causal temporal attention across the two frames at the same slot (frame t cannot
see frame t+k, as in Genie's causal ST-transformer), then an MLP. The queries of frame t+k, which saw both
frames, become the latent action tokens z (B, num_codes, latent_dim), quantised token by token.

Forward dynamics: the embedded patch tokens of o_t plus the quantised action tokens (projected back to the
model width and also added to every patch token, so each patch sees the action without having to attend to it)
pass through spatial blocks whose normalisation is modulated by the action (adaLN-Zero); a linear head maps every patch token to its target (the normalised change).

The inverse embedding also adds to the tokens of frame t+k a projection of the frame difference
(``difference_input``) and a factored product of both frames (``multiplicative_input``), so that motion, a
relation between the frames, is explicit at the first layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from lerobot_wbvla.lam.configuration_lam import STTransformerLAMConfig


class FactoredProduct(nn.Module):
    """out = W_o ((W_a x_t) * (W_b x_tk)), token by token: a factored bilinear map of the two frames."""

    def __init__(self, in_dim: int, out_dim: int, factors: int) -> None:
        super().__init__()
        self.a = nn.Linear(in_dim, factors)
        self.b = nn.Linear(in_dim, factors)
        self.out = nn.Linear(factors, out_dim)

    def forward(self, x_t: torch.Tensor, x_tk: torch.Tensor) -> torch.Tensor:
        return self.out(self.a(x_t) * self.b(x_tk))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"st_transformer: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, ratio: float, dropout: float) -> None:
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


class SpatialBlock(nn.Module):
    """Pre-norm transformer block over the tokens of one frame."""

    def __init__(self, dim: int, heads: int, ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ratio, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class ModulatedBlock(nn.Module):
    """Spatial block whose LayerNorms are scaled/shifted/gated by the action (adaLN-Zero, as in DiT).

    Scaling token features by a function of the action gives the decoder multiplicative image x action terms,
    which is what "move this frame by that motion" needs (to first order, change = -grad(image) . motion);
    adding the action to the tokens alone (Genie) can only express them through the MLP's nonlinearity.
    The modulation starts at zero, so every block starts as the identity.
    """

    def __init__(self, dim: int, heads: int, ratio: float, dropout: float, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.ff = FeedForward(dim, ratio, dropout)
        self.modulation = nn.Sequential(nn.GELU(), nn.Linear(cond_dim, 6 * dim))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond)[:, None].chunk(6, dim=-1)
        x = x + gate1 * self.attn(self.norm1(x) * (1 + scale1) + shift1)
        return x + gate2 * self.ff(self.norm2(x) * (1 + scale2) + shift2)


class STBlock(nn.Module):
    """Spatial attention within each frame, causal temporal attention across frames, then an MLP."""

    def __init__(self, dim: int, heads: int, ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_s = nn.LayerNorm(dim)
        self.attn_s = Attention(dim, heads, dropout)
        self.norm_t = nn.LayerNorm(dim)
        self.attn_t = Attention(dim, heads, dropout)
        self.norm_f = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ratio, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, s, d = x.shape  # batch, frames, slots (patches + queries), width
        xs = x.reshape(b * t, s, d)
        xs = xs + self.attn_s(self.norm_s(xs))
        xt = xs.reshape(b, t, s, d).transpose(1, 2).reshape(b * s, t, d)
        xt = xt + self.attn_t(self.norm_t(xt), causal=True)
        x = xt.reshape(b, s, t, d).transpose(1, 2)
        return x + self.ff(self.norm_f(x))


class STTransformerDynamics(nn.Module):
    def __init__(
        self, config: STTransformerLAMConfig, num_tokens: int, token_dim: int, out_dim: int | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.num_tokens = num_tokens
        self.token_dim = token_dim
        dim, q = config.dim, config.num_codes
        # Inverse dynamics (encoder).
        self.embed = nn.Linear(token_dim, dim)
        self.embed_diff = nn.Linear(token_dim, dim) if config.difference_input else None
        self.relate = (
            FactoredProduct(token_dim, dim, config.multiplicative_factors * dim)
            if config.multiplicative_input
            else None
        )
        self.pos = nn.Parameter(torch.randn(1, 1, num_tokens, dim) * 0.02)
        self.frame_emb = nn.Parameter(torch.randn(1, 2, 1, dim) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, 1, q, dim) * 0.02)
        self.encoder = nn.ModuleList(
            STBlock(dim, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.encoder_depth)
        )
        self.to_latent = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, config.latent_dim))
        # Forward dynamics (decoder).
        self.dec_embed = nn.Linear(token_dim, dim)
        self.dec_pos = nn.Parameter(torch.randn(1, num_tokens, dim) * 0.02)
        self.from_latent = nn.Linear(config.latent_dim, dim)
        self.action_pos = nn.Parameter(torch.randn(1, q, dim) * 0.02)
        self.action_cond = nn.Linear(q * config.latent_dim, dim)
        self.decoder = nn.ModuleList(
            ModulatedBlock(dim, config.heads, config.mlp_ratio, config.dropout, dim)
            for _ in range(config.decoder_depth)
        )
        self.out_dim = out_dim or token_dim
        self.n_flow = 2 if config.decoder == "warp" else 0  # one flow vector per token
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, self.out_dim + self.n_flow))
        if self.n_flow:  # start from "nothing moves"
            nn.init.zeros_(self.head[1].weight)
            nn.init.zeros_(self.head[1].bias)

    def infer_latent(self, x_t: torch.Tensor, x_tk: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        b = x_t.shape[0]
        frames = torch.stack([self.embed(x_t), self.embed(x_tk)], dim=1)  # (B, 2, N, dim)
        extra = torch.zeros_like(frames[:, 1])
        if self.embed_diff is not None:
            extra = extra + self.embed_diff(diff)
        if self.relate is not None:
            extra = extra + self.relate(x_t, x_tk)
        frames = frames + torch.stack([torch.zeros_like(extra), extra], dim=1)
        frames = frames + self.pos + self.frame_emb
        queries = (self.queries + self.frame_emb).expand(b, -1, -1, -1)
        x = torch.cat([frames, queries], dim=2)  # (B, 2, N + Q, dim)
        for block in self.encoder:
            x = block(x)
        return self.to_latent(x[:, 1, self.num_tokens :])  # (B, Q, latent_dim)

    def predict(self, x_t: torch.Tensor, z_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        action = self.from_latent(z_q) + self.action_pos  # (B, Q, dim)
        cond = self.action_cond(z_q.flatten(1))  # (B, dim)
        patches = self.dec_embed(x_t) + self.dec_pos + cond[:, None]
        x = torch.cat([patches, action], dim=1)
        for block in self.decoder:
            x = block(x, cond)
        out = self.head(x[:, : self.num_tokens])  # (B, N, out_dim + n_flow)
        direct = out[..., self.n_flow :]
        if not self.n_flow:
            return direct, None
        g = int(round(self.num_tokens**0.5))
        return direct, out[..., : self.n_flow].transpose(1, 2).reshape(out.shape[0], 2, g, g)
