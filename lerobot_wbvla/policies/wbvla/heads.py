"""The `wbvla` head on top of the VLM: latent-action tokens from the last hidden state, actions from the tokens.

- `LatentProjector`: `num_action_tokens` learned queries attend over the VLM's last hidden state (padding masked)
  and are projected to the LAM's latent size; z_t is their mean (article, Layer 2). Attention pooling lets each
  token pick what it needs from image and instruction tokens whatever their count, which differs by VLM family.
- `CodeHead`: the paper's discrete variant, logits over the LAM codebook for each of its code slots.
- `ActionDecoder`: `chunk_size` learned queries attend over the latent tokens (plus one state token) and read out
  an action chunk; the tokens are the only path from the VLM to the actions, so the action loss and the latent
  loss shape the same representation.
"""

from __future__ import annotations

import torch
from torch import nn


class LatentProjector(nn.Module):
    def __init__(
        self, hidden_size: int, num_tokens: int, latent_dim: int, dim: int, heads: int, dropout: float
    ):
        super().__init__()
        self.inp = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, dim))
        self.queries = nn.Parameter(torch.randn(num_tokens, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)
        )
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, latent_dim))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """hidden (B, L, H), mask (B, L) bool (True = real token) -> tokens (B, num_tokens, latent_dim)."""
        kv = self.inp(hidden)
        q = self.queries.unsqueeze(0).expand(hidden.shape[0], -1, -1)
        x, _ = self.attn(q, kv, kv, key_padding_mask=~mask.bool(), need_weights=False)
        x = x + q
        x = x + self.mlp(x)
        return self.out(x)


class CodeHead(nn.Module):
    """Tokens -> logits (B, num_codes, codebook_size) of the LAM's code indices."""

    def __init__(self, latent_dim: int, num_tokens: int, num_codes: int, codebook_size: int, dim: int):
        super().__init__()
        self.num_codes, self.codebook_size = num_codes, codebook_size
        self.net = nn.Sequential(
            nn.Flatten(1),
            nn.LayerNorm(num_tokens * latent_dim),
            nn.Linear(num_tokens * latent_dim, dim),
            nn.GELU(),
            nn.Linear(dim, num_codes * codebook_size),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens).view(-1, self.num_codes, self.codebook_size)


class ActionDecoder(nn.Module):
    """Latent tokens (+ state) -> an action chunk (B, chunk_size, out_dim) in normalised action units."""

    def __init__(
        self,
        latent_dim: int,
        state_dim: int,
        out_dim: int,
        chunk_size: int,
        dim: int,
        heads: int,
        layers: int,
        dropout: float,
    ):
        super().__init__()
        self.token_in = nn.Sequential(nn.LayerNorm(latent_dim), nn.Linear(latent_dim, dim))
        self.state_in = nn.Linear(state_dim, dim) if state_dim > 0 else None
        self.queries = nn.Parameter(torch.randn(chunk_size, dim) * 0.02)
        layer = nn.TransformerDecoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, out_dim))

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        memory = self.token_in(tokens)
        if self.state_in is not None:
            if state is None:
                raise ValueError("the action decoder was built with a state input but the batch has no state")
            memory = torch.cat([memory, self.state_in(state).unsqueeze(1)], dim=1)
        q = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        return self.out(self.decoder(q, memory))
