"""Vector quantisation of latent actions: codebook + commitment losses, straight-through gradients and
dead-code restart, for one or several codes per transition.

Why each piece is here:
- The article's snippet trains with forward MSE + 0.25 * commitment only. The commitment term pulls the encoder
  output towards the (detached) code, but nothing pulls the codes towards the encoder outputs, so the codebook
  keeps its random initialisation forever. The VQ-VAE codebook term ``||sg[z] - e||^2`` (van den Oord et al. 2017,
  also in the WholeBodyVLA paper's loss) is what moves the codes; it is added here with its own weight.
- Straight-through: the forward dynamics sees the code ``e`` but the gradient flows to ``z`` as if no snapping
  happened (``z + sg[e - z]``).
- Dead-code restart (UniVLA restarts unused codes every epoch; LAPA's NSVQ replaces unused codes): a code that no
  input has picked for a while is moved onto a recent encoder output, so the codebook does not collapse to a few
  entries. The restart takes its candidates as an argument so that a multi-process trainer can pass the same
  gathered batch to every rank and keep the codebooks identical.
- Several codes per transition (Genie/UniVLA/LAPA use 4 tokens from a small codebook): the latent has shape
  ``(B, num_codes, dim)`` and every token is quantised independently against one shared codebook.
- Cosine codes (``cosine=True``, as in ViT-VQGAN's l2-normalised codes): z and the codebook entries are compared
  as unit vectors, so the codes cover directions of the latent and cannot drift apart in scale from the encoder
  output; ``project`` maps z to the sphere and the losses are measured there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


@dataclass
class QuantizerOutput:
    """What one pass through the quantiser returns (all tensors keep the token axis)."""

    z_q: torch.Tensor  # (B, T, dim) straight-through quantised latent
    indices: torch.Tensor  # (B, T) long code indices
    codebook_loss: torch.Tensor  # scalar ||sg[z] - e||^2
    commitment_loss: torch.Tensor  # scalar ||z - sg[e]||^2


def perplexity_from_counts(counts: torch.Tensor) -> float:
    """exp(entropy) of the code-usage distribution: 1 = one code used, K = all K codes used equally."""
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts.float() / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


class VectorQuantizer(nn.Module):
    """Nearest-neighbour codebook over ``dim``-sized vectors, shared by all tokens of a transition.

    Args:
        codebook_size: number of codes K.
        dim: size of each code (the latent size of one action token).
        dead_code_threshold: a code whose usage (EMA of picks per batch) falls below this is restarted.
        usage_decay: EMA decay of the per-code usage counters.
        cosine: compare l2-normalised latents and codes (see the module docstring).
    """

    def __init__(
        self,
        codebook_size: int,
        dim: int,
        dead_code_threshold: float = 1e-2,
        usage_decay: float = 0.99,
        cosine: bool = False,
    ) -> None:
        super().__init__()
        if codebook_size < 1 or dim < 1:
            raise ValueError(f"codebook_size and dim must be >= 1, got {codebook_size} and {dim}")
        self.codebook_size = codebook_size
        self.dim = dim
        self.dead_code_threshold = dead_code_threshold
        self.usage_decay = usage_decay
        self.cosine = cosine
        self.codebook = nn.Embedding(codebook_size, dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        # EMA of how many times each code is picked per batch; starts at 1 so no code is "dead" at step 0.
        self.register_buffer("usage", torch.ones(codebook_size), persistent=True)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """The latent as the quantiser compares it: unit vectors with cosine codes, else unchanged."""
        return F.normalize(z, dim=-1) if self.cosine else z

    def codes(self) -> torch.Tensor:
        """The codebook as compared and looked up (K, dim): unit vectors with cosine codes."""
        return self.project(self.codebook.weight)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Indices (B, T) of the nearest code for every token of ``z`` (B, T, dim) (for cosine codes: the code
        of highest cosine similarity; ``z`` is expected on the sphere already, see ``project``)."""
        flat = z.reshape(-1, self.dim)
        weight = self.codes()
        # ||z||^2 - 2 z.e + ||e||^2; the ||z||^2 term does not change the argmin.
        dist = weight.pow(2).sum(-1)[None, :] - 2.0 * flat @ weight.t()
        return dist.argmin(dim=-1).reshape(z.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes for given indices: (B, T) long -> (B, T, dim)."""
        e = self.codebook(indices)
        return self.project(e)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        """Quantise ``z`` (B, T, dim); with cosine codes z is projected to the sphere first, so ``z_q`` and both
        losses are between unit vectors (callers that keep z should keep ``project(z)``)."""
        if z.dim() != 3 or z.shape[-1] != self.dim:
            raise ValueError(f"expected latent of shape (B, T, {self.dim}), got {tuple(z.shape)}")
        z = self.project(z)
        indices = self.nearest(z.detach())
        e = self.lookup(indices)
        codebook_loss = F.mse_loss(e, z.detach())
        commitment_loss = F.mse_loss(z, e.detach())
        z_q = z + (e - z).detach()
        return QuantizerOutput(
            z_q=z_q, indices=indices, codebook_loss=codebook_loss, commitment_loss=commitment_loss
        )

    def code_counts(self, indices: torch.Tensor) -> torch.Tensor:
        """How often each code appears in ``indices`` (any shape), as a float (K,) tensor."""
        return torch.bincount(indices.reshape(-1), minlength=self.codebook_size).float()

    @torch.no_grad()
    def update_usage(self, counts: torch.Tensor) -> None:
        """Fold one batch's code counts (already summed over processes when distributed) into the EMA."""
        self.usage.mul_(self.usage_decay).add_(counts.to(self.usage), alpha=1.0 - self.usage_decay)

    @torch.no_grad()
    def restart_dead_codes(self, candidates: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """Move every dead code onto a random row of ``candidates`` (M, dim) (recent encoder outputs).

        Returns how many codes were restarted. Their usage is reset to the mean usage so they get a fair
        chance before being judged again. With the same ``candidates`` and ``generator`` state every process
        makes the same change.
        """
        dead = (self.usage < self.dead_code_threshold).nonzero(as_tuple=True)[0]
        n_dead = int(dead.numel())
        if n_dead == 0 or candidates.numel() == 0:
            return 0
        candidates = candidates.reshape(-1, self.dim).to(self.codebook.weight)
        pick = torch.randint(0, candidates.shape[0], (n_dead,), generator=generator, device="cpu")
        noise = torch.randn(n_dead, self.dim, generator=generator, device="cpu").to(candidates)
        scale = candidates.std(dim=0, keepdim=True).clamp_min(1e-6) * 0.01
        self.codebook.weight.data[dead] = candidates[pick.to(candidates.device)] + noise * scale
        self.usage[dead] = self.usage.mean().clamp_min(self.dead_code_threshold * 2)
        return n_dead
