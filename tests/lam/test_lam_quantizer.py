"""The VQ layer: codebook term trains the codes, straight-through gradients, dead-code restart, several codes."""

from __future__ import annotations

import pytest
import torch

from lerobot_wbvla.lam.quantizer import VectorQuantizer, perplexity_from_counts


def _fit_codebook(use_codebook_term: bool, steps: int = 200) -> float:
    """Train only the codebook on fixed latents; return the median distance of the latents to their code."""
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=8, dim=4, dead_code_threshold=0.5, usage_decay=0.9)
    centres = torch.randn(8, 4) * 3
    z = (centres[torch.randint(0, 8, (512,))] + 0.05 * torch.randn(512, 4))[:, None]  # (B, 1, 4)
    opt = torch.optim.SGD(vq.parameters(), lr=0.5)
    for step in range(steps):
        out = vq(z)
        loss = out.commitment_loss * 0.25 + (out.codebook_loss if use_codebook_term else 0.0)
        opt.zero_grad()
        if loss.requires_grad:
            loss.backward()
            opt.step()
        vq.update_usage(vq.code_counts(out.indices))
        if step % 20 == 19:
            vq.restart_dead_codes(z, torch.Generator().manual_seed(step))
    return float((z - vq.lookup(vq.nearest(z))).norm(dim=-1).median().detach())


def test_codebook_term_is_what_trains_the_codes() -> None:
    with_term = _fit_codebook(True)
    without = _fit_codebook(False)
    # The commitment term alone never moves the codebook (the article's snippet): codes stay at their random
    # initialisation near 0, so latents stay far from them. With the codebook term they sit on the clusters.
    assert without > 2.0
    assert with_term < 0.3


def test_straight_through_passes_the_gradient_to_the_encoder_output() -> None:
    vq = VectorQuantizer(codebook_size=4, dim=3)
    z = torch.randn(5, 2, 3, requires_grad=True)
    out = vq(z)
    assert torch.allclose(out.z_q, vq.lookup(out.indices))  # forward value: the codes
    (out.z_q * torch.arange(3.0)).sum().backward()
    assert torch.allclose(z.grad, torch.arange(3.0).expand(5, 2, 3))  # backward: identity


def test_several_codes_per_transition_share_one_codebook() -> None:
    vq = VectorQuantizer(codebook_size=16, dim=8)
    z = torch.randn(6, 4, 8)
    out = vq(z)
    assert out.indices.shape == (6, 4) and out.z_q.shape == (6, 4, 8)
    d = torch.cdist(z.reshape(-1, 8), vq.codebook.weight)
    assert torch.equal(out.indices.reshape(-1), d.argmin(-1))
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        vq(torch.randn(6, 7))


def test_dead_codes_are_restarted_onto_latents() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=6, dim=2, dead_code_threshold=0.5, usage_decay=0.5)
    z = torch.tensor([[10.0, 10.0], [-10.0, 10.0]])[:, None]
    for _ in range(5):  # only the codes nearest to the two latents get used
        vq.update_usage(vq.code_counts(vq(z).indices))
    dead = vq.usage < 0.5
    assert int(dead.sum()) >= 4
    n = vq.restart_dead_codes(z, torch.Generator().manual_seed(0))
    assert n == int(dead.sum())
    assert (vq.usage[dead] >= 0.5).all()  # given a fair chance before being judged again
    # every restarted code now sits on one of the latents (they were all near the origin before)
    restarted = vq.codebook.weight.detach()[dead]
    assert (torch.cdist(restarted, z[:, 0]).min(-1).values < 1.0).all()


def test_perplexity() -> None:
    assert perplexity_from_counts(torch.tensor([5.0, 0, 0, 0])) == pytest.approx(1.0)
    assert perplexity_from_counts(torch.tensor([3.0, 3, 3, 3])) == pytest.approx(4.0)
    assert perplexity_from_counts(torch.zeros(4)) == 0.0
