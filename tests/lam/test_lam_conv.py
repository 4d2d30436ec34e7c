"""The conv LAM (``--lam.model.type=conv``): shapes, learning on moving squares, cosine codes, the motion-weighted
loss, save/load, labelling, and the pixel-encoder requirement."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lerobot_wbvla.lam.configuration_lam import (
    ConvLAMConfig,
    HFVisionEncoderConfig,
    LAMConfig,
    PixelEncoderConfig,
)
from lerobot_wbvla.lam.modeling_lam import LatentActionModel
from lerobot_wbvla.lam.quantizer import VectorQuantizer

TINY_CONV = dict(
    inverse_channels=[8, 16, 16], forward_channels=[8, 16], action_channels=8, latent_dim=8, codebook_size=8
)


def _lam(**model) -> LatentActionModel:
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=32, patch_size=8), model=ConvLAMConfig(**{**TINY_CONV, **model})
    )
    return LatentActionModel(cfg)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: one thread is fastest on a shared machine
    yield
    torch.set_num_threads(threads)


def _squares(n: int, gen: torch.Generator, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A bright 8 px square on a dark textured background, moved by 4 px left/right/up/down (label 0-3)."""
    bg = torch.nn.functional.avg_pool2d(torch.rand(n, 3, size, size, generator=gen), 5, 1, 2) * 0.3
    label = torch.randint(0, 4, (n,), generator=gen)
    dx = torch.tensor([-4, 4, 0, 0])[label]
    dy = torch.tensor([0, 0, -4, 4])[label]
    x0 = torch.randint(6, size - 14, (n,), generator=gen)
    y0 = torch.randint(6, size - 14, (n,), generator=gen)
    a, b = bg.clone(), bg.clone()
    for i in range(n):
        a[i, :, y0[i] : y0[i] + 8, x0[i] : x0[i] + 8] = 1.0
        b[i, :, y0[i] + dy[i] : y0[i] + dy[i] + 8, x0[i] + dx[i] : x0[i] + dx[i] + 8] = 1.0
    return a, b, label


def test_shapes_unit_latents_and_a_first_prediction_of_no_change() -> None:
    torch.manual_seed(0)
    lam = _lam(num_codes=3)
    a, b = torch.randn(5, 16, 192), torch.randn(5, 16, 192)
    lam.fit_normalizer(a, b)
    act = lam.encode_action(a, b)
    assert act.z.shape == act.z_q.shape == (5, 3, 8) and act.indices.shape == (5, 3)
    assert torch.allclose(act.z.norm(dim=-1), torch.ones(5, 3), atol=1e-5)  # cosine codes: on the sphere
    assert torch.allclose(act.z_q, lam.quantizer.lookup(act.indices), atol=1e-6)
    # zero-initialised head: predicting "no change" is where training starts
    assert torch.equal(lam.predict_next(a, act.z_q), a)
    out = lam.compute_loss(a, b)
    assert out["forward_loss"].item() == pytest.approx(out["copy_baseline_loss"].item(), rel=1e-5)
    # a block-averaged target is predicted at the coarse resolution
    pooled = _lam(target_pool=4)
    pooled.fit_normalizer(a, b)
    assert pooled.predict_next(a, pooled.encode_action(a, b).z_q).shape == (5, 16, 12)


def test_loss_drops_on_moving_squares_within_a_few_dozen_steps() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    lam = _lam(num_codes=1, codebook_size=8)
    ia, ib, _ = _squares(512, gen)
    a, b = lam.encoder(ia), lam.encoder(ib)
    lam.fit_normalizer(a, b)
    opt = torch.optim.AdamW(lam.parameters(), lr=3e-3)
    ratios = []
    for _ in range(60):
        idx = torch.randint(0, len(a), (32,), generator=gen)
        out = lam.compute_loss(a[idx], b[idx])
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        ratios.append((out["forward_loss"] / out["copy_baseline_loss"]).item())
    first, last = sum(ratios[:5]) / 5, sum(ratios[-10:]) / 10
    assert first == pytest.approx(1.0, abs=0.05)  # starts at the copy baseline
    assert last < 0.75 * first, (first, last)  # explains a good part of the (weighted) change


def test_cosine_quantizer_picks_by_angle_and_keeps_unit_vectors() -> None:
    vq = VectorQuantizer(2, 2, cosine=True)
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[3.0, 3.0], [1.0, 0.0]]))
    z = torch.tensor([[[1.0, 1.0]], [[5.0, 0.2]]])
    out = vq(z)
    # [1, 1] is nearer to [1, 0] in L2 but points along [3, 3]: the cosine quantiser picks code 0
    assert out.indices.flatten().tolist() == [0, 1]
    assert torch.allclose(out.z_q.norm(dim=-1), torch.ones(2, 1))
    assert torch.equal(vq(z * 7.0).indices, out.indices)  # the latent's length does not matter
    assert out.commitment_loss.item() <= 4.0  # between unit vectors
    plain = VectorQuantizer(2, 2)
    with torch.no_grad():
        plain.codebook.weight.copy_(torch.tensor([[3.0, 3.0], [1.0, 0.0]]))
    assert plain(z[:1]).indices.item() == 1  # the default (L2) behaviour is unchanged
    assert torch.equal(plain.lookup(torch.tensor([[0]])), plain.codebook.weight[None, :1])


def test_changed_pixels_dominate_the_motion_weighted_loss() -> None:
    torch.manual_seed(0)
    img_a = torch.zeros(4, 3, 32, 32)
    img_b = img_a.clone()
    img_b[:, :, 4:8, 4:8] = 2.0  # a small region changes; the rest of the frame is static
    results = {}
    for weighting in ("abs_change", "none"):
        lam = _lam(motion_weight=weighting)
        a, b = lam.encoder(img_a), lam.encoder(img_b)
        lam.fit_normalizer(a, b)
        weight = lam.motion_weight(a, b)
        if weighting == "abs_change":
            std = torch.tensor([0.229, 0.224, 0.225])
            w_img = weight.reshape(4, 4, 4, 3, 8, 8).permute(0, 3, 1, 4, 2, 5).reshape(4, 3, 32, 32)
            assert torch.allclose(
                w_img[:, :, 5, 5], (2.0 * std).mean() + 0.01
            )  # mean_c |change| in [0, 1] + eps
            assert torch.allclose(w_img[:, :, 20, 20], torch.tensor(0.01))  # static pixel: eps
        losses = []
        for region in ((slice(4, 8), slice(4, 8)), (slice(20, 24), slice(20, 24))):  # changed, static
            err = torch.zeros(4, 3, 32, 32)
            err[:, :, region[0], region[1]] = 1.0
            err_tok = lam.encoder(err)
            lam.predict_target = lambda tok_t, z_q, e=err_tok, lam=lam: lam.target(a, b) + e  # noqa: B023
            losses.append(lam.compute_loss(a, b)["forward_loss"].item())
        results[weighting] = losses[0] / losses[1]
    # the same error costs ~30x more where the frame changed; unweighted, both cost the same
    assert results["abs_change"] > 20, results
    assert results["none"] == pytest.approx(1.0, rel=1e-4), results


def test_save_load_is_bit_identical_and_the_labeller_uses_the_codes(tmp_path: Path) -> None:
    from lerobot_wbvla.lam.data import encoder_transform
    from lerobot_wbvla.lam.label import label_episode

    torch.manual_seed(0)
    lam = _lam(num_codes=2, multiplicative_input=True, film=True, skip_connections=True)
    a, b = torch.randn(8, 16, 192), torch.randn(8, 16, 192)
    lam.fit_normalizer(a, b)
    with torch.no_grad():
        for p in lam.dynamics.head.parameters():
            p.normal_(0, 0.1)  # make the forward net non-trivial before comparing its outputs
    lam.eval()
    lam.save_pretrained(tmp_path / "conv_lam")
    again = LatentActionModel.from_pretrained(tmp_path / "conv_lam")
    assert again.config == lam.config and again.config.model.type == "conv"
    state, state2 = lam.state_dict(), again.state_dict()
    assert state.keys() == state2.keys() and all(torch.equal(state[k], state2[k]) for k in state)
    x, y = lam.encode_action(a, b), again.encode_action(a, b)
    assert torch.equal(x.z, y.z) and torch.equal(x.indices, y.indices)
    assert torch.equal(lam.predict_next(a, x.z_q), again.predict_next(a, y.z_q))

    frames = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    transform = encoder_transform(again.config.encoder)
    codes, z = label_episode(again, frames, k=2, transform=transform, batch_size=4)
    assert codes.shape == (7, 2) and z.shape == (7, 2 * 8)
    tok = again.encode_frames(transform(frames, layout="CHW"))
    nxt = torch.clamp(torch.arange(7) + 2, max=6)
    ref = again.encode_action(tok, tok[nxt])
    assert (codes == ref.indices.numpy()).all()
    assert torch.allclose(torch.from_numpy(z), ref.z_q.flatten(1), atol=1e-6)


def test_conv_model_needs_the_pixel_encoder_and_consistent_sizes() -> None:
    from lerobot_wbvla.lam.data import USER_ERRORS

    # fails before looking at the (here nonexistent) backbone: the message names the flag to change
    with pytest.raises(ValueError, match=r"lam\.model\.type=conv .* needs --lam\.encoder\.type=pixel") as err:
        LatentActionModel(
            LAMConfig(encoder=HFVisionEncoderConfig(pretrained="/no/such/dinov2"), model=ConvLAMConfig())
        )
    assert isinstance(err.value, USER_ERRORS) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="divisible by 16"):
        LatentActionModel(
            LAMConfig(encoder=PixelEncoderConfig(image_size=40, patch_size=8), model=ConvLAMConfig())
        )
    with pytest.raises(ValueError, match="motion_weight='sq'"):
        _lam(motion_weight="sq")
    with pytest.raises(ValueError, match="decoder=direct"):
        _lam(decoder="warp")


def test_conv_baseline_preset_is_the_reviewers_model() -> None:
    from lerobot_wbvla.lam.presets import conv_baseline_config

    cfg = conv_baseline_config()
    m = cfg.model
    assert cfg.encoder.type == "pixel" and cfg.encoder.image_size == 64 and cfg.frame_gap == 10
    assert m.type == "conv" and (m.num_codes, m.codebook_size, m.cosine_codes) == (1, 32, True)
    assert (m.motion_weight, m.motion_weight_eps, m.difference_input) == ("abs_change", 0.01, True)
    lam = LatentActionModel(cfg)
    tok = torch.randn(2, 64, 192)
    lam.fit_normalizer(tok, tok + 0.1)
    assert lam.encode_action(tok, tok + 0.1).z.shape == (2, 1, 32)
