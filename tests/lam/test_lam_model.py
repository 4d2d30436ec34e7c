"""LAM model: encoders (tiny DINOv2 from a folder, pixel patches), both dynamics variants, loss semantics,
save/load, and that a small LAM learns motion that a fresh one does not know."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lerobot_wbvla.lam.configuration_lam import (
    HFVisionEncoderConfig,
    LAMConfig,
    MLPLAMConfig,
    PixelEncoderConfig,
    STTransformerLAMConfig,
)
from lerobot_wbvla.lam.encoders import HFVisionEncoder, PixelEncoder
from lerobot_wbvla.lam.modeling_lam import LatentActionModel

TINY_ST = dict(dim=32, heads=2, encoder_depth=1, decoder_depth=1, latent_dim=8, num_codes=2, codebook_size=8)
TINY_MLP = dict(token_dim=8, inverse_hidden=[64], forward_hidden=[64], latent_dim=8, codebook_size=16)


def test_hf_vision_encoder_tokens_from_a_local_folder(tiny_dinov2_dir: Path) -> None:
    frames = torch.randn(3, 3, 224, 224)
    patch = HFVisionEncoder(HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), pool_grid=0))
    assert (patch.num_tokens, patch.token_dim) == (256, 32)  # 16 x 16 patches of ViT/14 at 224 px
    out = patch(frames)
    assert out.shape == (3, 256, 32)
    pooled = HFVisionEncoder(HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), pool_grid=4))
    pooled_out = pooled(frames)
    assert pooled_out.shape == (3, 16, 32)
    # pooling = mean over 4 x 4 blocks of the patch grid
    grid = out.reshape(3, 16, 16, 32)
    assert torch.allclose(pooled_out[:, 0], grid[:, :4, :4].mean((1, 2)), atol=1e-5)
    cls = HFVisionEncoder(HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), tokens="cls"))
    assert cls(frames).shape == (3, 1, 32)
    assert not any(p.requires_grad for p in patch.parameters())  # frozen


def test_missing_encoder_folder_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dinov2"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        LatentActionModel(LAMConfig(encoder=HFVisionEncoderConfig(pretrained=str(missing))))


def test_pixel_encoder_is_resize_and_patchify() -> None:
    enc = PixelEncoder(PixelEncoderConfig(image_size=16, patch_size=8))
    frames = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    tok = enc(frames)
    assert tok.shape == (2, 4, 3 * 64)
    small = torch.nn.functional.interpolate(frames, size=(16, 16), mode="area")
    assert torch.equal(tok[:, 1].reshape(2, 3, 8, 8), small[:, :, :8, 8:])  # token 1 = top-right patch
    with pytest.raises(ValueError, match="not divisible"):
        PixelEncoder(PixelEncoderConfig(image_size=30, patch_size=8))


@pytest.mark.parametrize("model_cfg", [MLPLAMConfig(**TINY_MLP), STTransformerLAMConfig(**TINY_ST)])
def test_loss_is_relative_to_copying_the_current_frame(model_cfg) -> None:
    torch.manual_seed(0)
    lam = LatentActionModel(
        LAMConfig(encoder=PixelEncoderConfig(image_size=16, patch_size=8), model=model_cfg)
    )
    a, b = torch.randn(32, 4, 192), torch.randn(32, 4, 192)
    lam.fit_normalizer(a, b)
    out = lam.compute_loss(a, b)
    # normalised residual target: predicting "no change" costs ~1 (the RMS of the change is the unit)
    assert out["copy_baseline_loss"].item() == pytest.approx(1.0, abs=0.05)
    assert out["indices"].shape == (32, model_cfg.num_codes)
    assert out["z"].shape == (32, model_cfg.num_codes, model_cfg.latent_dim)
    expected = (
        out["forward_loss"]
        + model_cfg.codebook_weight * out["codebook_loss"]
        + model_cfg.commitment_weight * out["commitment_loss"]
    )
    assert torch.allclose(out["loss"], expected)
    # predict_next is the forward head's output mapped back to encoder units
    act = lam.encode_action(a, b)
    pred = lam.predict_next(a, act.z_q)
    assert torch.allclose((pred - a) / lam.normalizer.target_std, lam.predict_target(a, act.z_q), atol=1e-4)


def test_save_and_load_give_identical_codes(tmp_path: Path, tiny_dinov2_dir: Path) -> None:
    torch.manual_seed(0)
    cfg = LAMConfig(
        encoder=HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), pool_grid=2),
        model=STTransformerLAMConfig(**TINY_ST),
        frame_gap="auto",
    )
    lam = LatentActionModel(cfg)
    frames = torch.randn(4, 3, 224, 224)
    tok = lam.encode_frames(frames)
    lam.fit_normalizer(tok[:2], tok[2:])
    lam.eval()
    lam.save_pretrained(tmp_path / "lam")
    assert {p.name for p in (tmp_path / "lam").iterdir()} == {"config.json", "model.safetensors"}
    again = LatentActionModel.from_pretrained(tmp_path / "lam")
    assert again.config == cfg
    assert torch.equal(again.encode_frames(frames), tok)
    a = lam.encode_action(tok[:2], tok[2:])
    b = again.encode_action(tok[:2], tok[2:])
    assert torch.equal(a.indices, b.indices) and torch.equal(a.z, b.z)


def _shift_pairs(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Smooth random 16x16 images shifted by one of 4 motions (left, right, up, down) or kept still."""
    img = torch.nn.functional.avg_pool2d(torch.rand(n, 3, 24, 24, generator=gen), 3, 1, 1)
    label = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.tensor([-2, 2, 0, 0, 0])[label]
    dy = torch.tensor([0, 0, -2, 2, 0])[label]
    a = img[:, :, 4:20, 4:20]
    b = torch.stack([img[i, :, 4 + dy[i] : 20 + dy[i], 4 + dx[i] : 20 + dx[i]] for i in range(n)])
    return a, b, label


def test_a_small_lam_learns_the_motion_and_its_codes_control_the_prediction() -> None:
    from lerobot_wbvla.lam.probes import linear_probe, one_hot_codes

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, more only fight over a shared machine
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8),
        model=MLPLAMConfig(
            token_dim=16,
            inverse_hidden=[128],
            forward_hidden=[128],
            latent_dim=8,
            num_codes=1,
            codebook_size=8,
            decoder="warp",
            flow_grid=2,
        ),
    )
    lam = LatentActionModel(cfg)
    enc = lam.encoder
    ta, tb, _ = _shift_pairs(2048, gen)
    a, b = enc(ta), enc(tb)
    lam.fit_normalizer(a, b)
    ha, hb, hy = _shift_pairs(512, gen)
    ha, hb = enc(ha), enc(hb)
    fresh = LatentActionModel(cfg)
    fresh.load_state_dict(lam.state_dict())

    def probe(model):
        model.eval()
        with torch.no_grad():
            act_tr = model.encode_action(a[:1024], b[:1024])
            act_te = model.encode_action(ha, hb)
        ya = _shift_pairs(2048, torch.Generator().manual_seed(0))[2][:1024]
        z = linear_probe(act_tr.z.flatten(1).numpy(), ya.numpy(), act_te.z.flatten(1).numpy(), hy.numpy())
        k = model.quantizer.codebook_size
        c = linear_probe(
            one_hot_codes(act_tr.indices, k), ya.numpy(), one_hot_codes(act_te.indices, k), hy.numpy(), False
        )
        with torch.no_grad():
            err = model.forward_error(ha, hb).mean()
            rand = model.forward_error(ha, hb, torch.randint(0, k, (len(ha), 1), generator=gen)).mean()
        return z.accuracy, c.accuracy, float(rand - err)

    opt = torch.optim.AdamW(lam.parameters(), lr=2e-3)
    for step in range(300):
        idx = torch.randint(0, len(a), (64,), generator=gen)
        out = lam.compute_loss(a[idx], b[idx])
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        lam.quantizer.update_usage(lam.quantizer.code_counts(out["indices"]))
        if step % 50 == 49:
            lam.quantizer.restart_dead_codes(out["z"].detach(), gen)
    z_acc, code_acc, gap = probe(lam)
    z0, code0, gap0 = probe(fresh)
    torch.set_num_threads(threads)
    # 5 classes (chance 0.2): after 300 steps the latent and the codes carry the motion, a fresh LAM's do not
    assert z_acc > 0.85 and code_acc > 0.8, (z_acc, code_acc)
    assert z0 < 0.4 and code0 < 0.4, (z0, code0)
    # the trained decoder follows the code (random codes predict worse); the fresh one ignores it
    assert gap > 0.3 and abs(gap0) < 0.02, (gap, gap0)


def test_augmentation_mirrors_and_recolours_both_frames_alike() -> None:
    from lerobot_wbvla.lam.augment import augment_pixel_pairs

    cfg = PixelEncoderConfig(image_size=16, patch_size=8)
    enc = PixelEncoder(cfg)
    img = torch.randn(64, 3, 16, 16)
    shifted = torch.roll(img, 1, dims=-1)  # the "next frame": everything moved one pixel right
    a, b = augment_pixel_pairs(enc(img), enc(shifted), cfg, torch.Generator().manual_seed(0))
    for i in range(64):
        out_a = a[i].reshape(2, 2, 3, 8, 8).permute(2, 0, 3, 1, 4).reshape(3, 16, 16)
        out_b = b[i].reshape(2, 2, 3, 8, 8).permute(2, 0, 3, 1, 4).reshape(3, 16, 16)
        # a positive gain per channel keeps each channel perfectly correlated with its source
        flipped = (
            torch.corrcoef(torch.stack([out_a[0].flatten(), img[i, 0].flip(-1).flatten()]))[0, 1] > 0.999
        )
        straight = torch.corrcoef(torch.stack([out_a[0].flatten(), img[i, 0].flatten()]))[0, 1] > 0.999
        assert flipped != straight
        expected_b = torch.roll(
            out_a, -1 if flipped else 1, dims=-1
        )  # the motion is mirrored with the frames
        assert torch.allclose(out_b[:, :, 1:-1], expected_b[:, :, 1:-1], atol=1e-5)
    with pytest.raises(ValueError, match="pixel encoder"):
        augment_pixel_pairs(a, b, HFVisionEncoderConfig(), torch.Generator())


def test_coarse_target_predicts_block_averaged_change() -> None:
    torch.manual_seed(0)
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8), model=MLPLAMConfig(**TINY_MLP, target_pool=4)
    )
    lam = LatentActionModel(cfg)
    assert lam.target_dim == 3 * 2 * 2
    img_a, img_b = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    a, b = lam.encoder(img_a), lam.encoder(img_b)
    lam.fit_normalizer(a, b)
    coarse = torch.nn.functional.avg_pool2d(img_b - img_a, 4)  # (8, 3, 4, 4): 2 x 2 blocks per 8 px patch
    target = lam.target(a, b) * lam.normalizer.target_std
    assert torch.allclose(
        target[:, 1].reshape(8, 3, 2, 2), coarse[:, :, :2, 2:], atol=1e-5
    )  # top-right patch
    out = lam.compute_loss(a, b)
    assert out["copy_baseline_loss"].item() == pytest.approx(1.0, abs=0.05)
    assert lam.predict_next(a, lam.encode_action(a, b).z_q).shape == (8, 4, 12)
    with pytest.raises(ValueError, match="must divide"):
        LatentActionModel(
            LAMConfig(
                encoder=PixelEncoderConfig(image_size=16, patch_size=8), model=MLPLAMConfig(target_pool=3)
            )
        )


def test_warp_moves_the_frame_along_the_flow() -> None:
    from lerobot_wbvla.lam.warp import GridLayout, image_to_tokens, tokens_to_image, warp_tokens

    layout = GridLayout(grid=2, channels=3, patch=8)
    img = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 20, 20), 3, 1, 1)[:, :, 2:18, 2:18]
    tok = image_to_tokens(img, layout)
    assert torch.equal(tokens_to_image(tok, layout), img)
    assert torch.allclose(warp_tokens(tok, torch.zeros(2, 2, 4, 4), layout), tok, atol=1e-5)
    # A flow of one pixel in x (2 / 16 in grid_sample units) reads every pixel from its right neighbour.
    flow = torch.zeros(2, 2, 4, 4)
    flow[:, 0] = 2 / 16
    moved = tokens_to_image(warp_tokens(tok, flow, layout), layout)
    assert torch.allclose(moved[..., :-1], img[..., 1:], atol=1e-5)


def test_warp_decoder_starts_as_copying_the_current_frame() -> None:
    torch.manual_seed(0)
    for model_cfg in (
        MLPLAMConfig(**TINY_MLP, decoder="warp", flow_grid=4),
        STTransformerLAMConfig(**TINY_ST, decoder="warp"),
    ):
        lam = LatentActionModel(
            LAMConfig(encoder=PixelEncoderConfig(image_size=16, patch_size=8), model=model_cfg)
        )
        a, b = torch.randn(8, 4, 192), torch.randn(8, 4, 192)
        lam.fit_normalizer(a, b)
        act = lam.encode_action(a, b)
        # zero-initialised flow and correction: the first prediction is "no change"
        assert torch.allclose(lam.predict_next(a, act.z_q), a, atol=1e-5)


def test_warp_decoder_on_a_dinov2_feature_grid(tiny_dinov2_dir: Path) -> None:
    torch.manual_seed(0)
    cfg = LAMConfig(
        encoder=HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), pool_grid=4),
        model=MLPLAMConfig(**TINY_MLP, decoder="warp", flow_grid=4),
    )
    lam = LatentActionModel(cfg)
    frames = torch.randn(6, 3, 224, 224)
    tok = lam.encode_frames(frames)
    assert tok.shape == (6, 16, 32)
    lam.fit_normalizer(tok[:3], tok[3:])
    out = lam.compute_loss(tok[:3], tok[3:])
    out["loss"].backward()
    flow_weight = lam.dynamics.forward_head[-1].weight
    assert flow_weight.grad[: 2 * 4 * 4].abs().sum() > 0  # the flow rows learn from the loss
    with pytest.raises(ValueError, match="spatial grid"):
        LatentActionModel(
            LAMConfig(
                encoder=HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), tokens="cls"),
                model=MLPLAMConfig(**TINY_MLP, decoder="warp"),
            )
        )
