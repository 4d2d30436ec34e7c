"""The `wbvla` policy as LeRobot policies must behave, on a tiny random Qwen2-VL and a tiny random LAM.

Shapes of `select_action` / `predict_action_chunk`, a batch of one equal to the unbatched call, the action queue and
`reset`, temporal ensembling, `predict_latent`, each loss logged and each trainable part receiving gradient, the
save/load round trip through LeRobot's own `from_pretrained` with the backbone folder gone, the processors' round
trip, and one clear error for each kind of bad input the issue lists.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lerobot.configs.types import FeatureType, PolicyFeature

from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, LOCO_KEYS, STATE_KEYS

H, W = 48, 64
CHUNK = 6
IMG = "observation.images.head"


def features() -> tuple[dict, dict]:
    inputs = {
        "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(len(STATE_KEYS),)),
        IMG: PolicyFeature(type=FeatureType.VISUAL, shape=(3, H, W)),
    }
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(len(ACTION_KEYS),))}
    return inputs, outputs


def stats() -> dict:
    g = torch.Generator().manual_seed(1)
    a = len(ACTION_KEYS)
    return {
        "action": {"mean": torch.randn(a, generator=g), "std": torch.rand(a, generator=g) + 0.5},
        "observation.state": {"mean": torch.zeros(len(STATE_KEYS)), "std": torch.ones(len(STATE_KEYS))},
    }


def meta(root: Path | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        root=root or Path("/nonexistent"),
        fps=30,
        features={"action": {"dtype": "float32", "shape": (len(ACTION_KEYS),), "names": list(ACTION_KEYS)}},
    )


def make_config(vlm_dir: Path, lam_dir: Path | None = None, **kw):
    from lerobot_wbvla.policies.wbvla import WbvlaConfig

    inputs, outputs = features()
    cfg = WbvlaConfig(
        vlm_model_name=str(vlm_dir),
        lam=str(lam_dir) if lam_dir else None,
        chunk_size=CHUNK,
        n_action_steps=kw.pop("n_action_steps", 3),
        vlm_image_size=kw.pop("vlm_image_size", 56),
        head_dim=32,
        head_heads=2,
        decoder_layers=1,
        device="cpu",
        push_to_hub=False,
        **kw,
    )
    cfg.input_features, cfg.output_features = inputs, outputs
    return cfg


def make_policy(vlm_dir: Path, lam_dir: Path | None = None, dataset_meta=None, **kw):
    from lerobot_wbvla.policies.wbvla import WbvlaPolicy

    torch.manual_seed(0)
    return WbvlaPolicy(make_config(vlm_dir, lam_dir, **kw), dataset_stats=stats(), dataset_meta=dataset_meta)


def obs_batch(b: int, seed: int = 0, time_axis: bool = False) -> dict:
    g = torch.Generator().manual_seed(seed)
    shape = (b, 2, 3, H, W) if time_axis else (b, 3, H, W)
    state_shape = (b, 2, len(STATE_KEYS)) if time_axis else (b, len(STATE_KEYS))
    return {
        IMG: torch.rand(shape, generator=g),
        "observation.state": torch.randn(state_shape, generator=g),
        "task": ["pick up the red box"] * (b - 1) + ["turn left"],
    }


def train_batch(b: int = 3, seed: int = 0) -> dict:
    batch = obs_batch(b, seed, time_axis=True)
    g = torch.Generator().manual_seed(seed + 100)
    batch["action"] = torch.randn(b, CHUNK, len(ACTION_KEYS), generator=g)
    pad = torch.zeros(b, CHUNK, dtype=torch.bool)
    pad[0, -2:] = True
    batch["action_is_pad"] = pad
    batch["index"] = torch.arange(b)
    return batch


@pytest.fixture(scope="module")
def policy(tiny_qwen2_vl_dir, tiny_lam_dir):
    p = make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, dataset_meta=meta())
    p.eval()
    return p


def test_latent_sizes_come_from_the_lam_and_a_mismatch_is_one_clear_error(tiny_qwen2_vl_dir, tiny_lam_dir):
    from lerobot_wbvla.policies.wbvla.lam_teacher import LAMMismatchError

    cfg = make_config(tiny_qwen2_vl_dir, tiny_lam_dir)
    assert (cfg.latent_dim, cfg.lam_num_codes, cfg.lam_codebook_size, cfg.lam_frame_gap) == (16, 1, 32, 2)
    assert cfg.observation_delta_indices == [0, 2]
    with pytest.raises(LAMMismatchError, match="latent_dim=64 does not match the LAM"):
        make_config(tiny_qwen2_vl_dir, tiny_lam_dir, latent_dim=64)


def test_training_forward_logs_every_loss_and_trains_head_and_backbone(tiny_qwen2_vl_dir, tiny_lam_dir):
    p = make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, dataset_meta=meta(), loco_head=True)
    p.train()
    loss, logs = p.forward(train_batch())
    assert set(logs) == {"loss_action_l1", "loss_loco_l1", "loss_latent_mse", "loss_code_ce", "code_accuracy"}
    assert torch.isfinite(loss) and all(v == v for v in logs.values())
    loss.backward()
    grads = {
        n: p_.grad is not None and bool(p_.grad.abs().sum() > 0)
        for n, p_ in p.named_parameters()
        if p_.requires_grad
    }
    for part in ("projector.", "code_head.", "decoder."):
        assert any(g for n, g in grads.items() if n.startswith(part)), part
    assert any(g for n, g in grads.items() if n.startswith("vlm.")), "the language model gets no gradient"
    # freeze_vision (the default): no trainable parameter of the vision tower
    vision = set(p.vlm.vision_parameter_names())
    vlm_params = dict(p.vlm.named_parameters())
    assert len(vision) > 4 and vision <= set(vlm_params)
    assert not any(vlm_params[n].requires_grad for n in vision)
    assert any(t.requires_grad for n, t in vlm_params.items() if n not in vision)
    per_sample, _ = p.forward(train_batch(), reduction="none")
    assert per_sample.shape == (3,)


def test_fused_adamw_takes_the_same_step_as_the_loop(tiny_qwen2_vl_dir, tiny_lam_dir):
    """optimizer_fused (the default) builds LeRobot's plain "adamw" with fused groups: the same update, faster."""
    from lerobot.optim.optimizers import AdamWConfig

    params = {}
    for fused in (True, False):
        torch.manual_seed(0)
        p = make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, dataset_meta=meta(), optimizer_fused=fused)
        p.train()
        p.config.camera_augment = False
        groups = p.get_optim_params()
        assert all(g.get("fused", False) is fused for g in groups)
        cfg = p.config.get_optimizer_preset()
        assert type(cfg) is AdamWConfig  # checkpoints keep LeRobot's own optimizer type
        opt = cfg.build(groups)
        for _ in range(2):
            loss, _ = p.forward(train_batch())
            loss.backward()
            opt.step()
            opt.zero_grad()
        params[fused] = {n: t.detach().clone() for n, t in p.named_parameters() if t.requires_grad}
    for name, value in params[True].items():
        torch.testing.assert_close(value, params[False][name], atol=1e-5, rtol=1e-4, msg=name)


def test_padded_action_steps_do_not_count(tiny_qwen2_vl_dir):
    p = make_policy(tiny_qwen2_vl_dir, None)
    p.eval()  # no dropout, no augmentation: the same tokens twice
    batch = train_batch()
    batch["action_is_pad"][:] = False
    batch["action_is_pad"][:, 3:] = True
    _, logs = p.forward(batch)
    batch["action"][:, 3:] += 100.0  # only padded steps change
    _, logs2 = p.forward(batch)
    assert logs2["loss_action_l1"] == pytest.approx(logs["loss_action_l1"], rel=1e-6)


def test_select_action_shapes_queue_reset_and_batch_of_one(policy):
    b = obs_batch(2)
    chunk = policy.predict_action_chunk(b)
    assert chunk.shape == (2, CHUNK, len(ACTION_KEYS))
    one = policy.predict_action_chunk({k: v[1:2] if torch.is_tensor(v) else v[1:2] for k, v in b.items()})
    torch.testing.assert_close(one, chunk[1:2], atol=1e-5, rtol=1e-5)
    unbatched = {IMG: b[IMG][1], "observation.state": b["observation.state"][1], "task": b["task"][1]}
    from lerobot.processor import AddBatchDimensionProcessorStep  # noqa: F401 (the eval path adds the dim)

    batched = {k: (v.unsqueeze(0) if torch.is_tensor(v) else [v]) for k, v in unbatched.items()}
    torch.testing.assert_close(policy.predict_action_chunk(batched), chunk[1:2], atol=1e-5, rtol=1e-5)

    policy.reset()
    first = policy.select_action(b)
    assert first.shape == (2, len(ACTION_KEYS))
    torch.testing.assert_close(first, chunk[:, 0])
    _, t0 = policy.predict_latent()
    policy.select_action(b)
    policy.select_action(b)
    assert policy.predict_latent()[1] == t0, "a new chunk was predicted before n_action_steps were used"
    policy.select_action(b)
    assert policy.predict_latent()[1] > t0
    policy.reset()
    torch.testing.assert_close(policy.select_action(b), chunk[:, 0])


def test_predict_latent_returns_z_t_and_its_time(tiny_qwen2_vl_dir, tiny_lam_dir):
    p = make_policy(tiny_qwen2_vl_dir, tiny_lam_dir)
    p.eval()
    with pytest.raises(RuntimeError, match="no latent yet"):
        p.predict_latent()
    before = time.monotonic()
    z, t = p.predict_latent(obs_batch(2))
    assert z.shape == (2, 16) and before <= t <= time.monotonic()
    tokens = p.encode(obs_batch(2))
    torch.testing.assert_close(z, tokens.mean(1))


def test_temporal_ensembling(tiny_qwen2_vl_dir):
    p = make_policy(tiny_qwen2_vl_dir, None, n_action_steps=1, temporal_ensemble_coeff=0.01)
    p.eval()
    b = obs_batch(1)
    chunk = p.predict_action_chunk(b)
    first = p.select_action(b)
    torch.testing.assert_close(first, chunk[:, 0])
    second = p.select_action(b)  # same observation: the ensemble of chunk[1] and the new chunk[0]
    w = torch.exp(-0.01 * torch.arange(2.0))
    expected = (chunk[:, 1] * w[0] + chunk[:, 0] * w[1]) / w.sum()
    torch.testing.assert_close(second, expected, atol=1e-5, rtol=1e-5)


def test_loco_entries_are_zero_without_the_loco_head(tiny_qwen2_vl_dir):
    from lerobot_wbvla.policies.wbvla import make_wbvla_pre_post_processors

    p = make_policy(tiny_qwen2_vl_dir, None, dataset_meta=meta())
    p.eval()
    pre, post = make_wbvla_pre_post_processors(p.config, stats())
    obs = obs_batch(1)
    obs = {IMG: obs[IMG][0], "observation.state": obs["observation.state"][0], "task": "turn left"}
    action = post(p.select_action(pre(obs)))
    loco = [ACTION_KEYS.index(k) for k in LOCO_KEYS]
    assert torch.allclose(action[0, loco], torch.zeros(4), atol=1e-5), action[0, loco]
    assert action[0, :16].abs().sum() > 0


def test_save_load_round_trip_is_bit_identical_without_the_backbone_folder(tmp_path, tiny_qwen2_vl_dir):
    from lerobot_wbvla.policies.wbvla import WbvlaPolicy, make_wbvla_pre_post_processors
    from lerobot_wbvla.policies.wbvla.processor_wbvla import WbvlaTaskProcessorStep  # noqa: F401 (registers)

    vlm = tmp_path / "my-vlm"
    shutil.copytree(tiny_qwen2_vl_dir, vlm)
    p = make_policy(vlm, None, dataset_meta=meta(), vlm_training="lora")
    p.eval()
    pre, post = make_wbvla_pre_post_processors(p.config, stats())
    out = tmp_path / "ckpt"
    p.save_pretrained(out)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    shutil.rmtree(vlm)  # the checkpoint must not need the backbone folder any more
    assert (out / "vlm" / "config.json").is_file()

    q = WbvlaPolicy.from_pretrained(out)
    assert q.config.action_names == list(ACTION_KEYS)
    from lerobot.processor import PolicyProcessorPipeline

    pre2 = PolicyProcessorPipeline.from_pretrained(out, config_filename="policy_preprocessor.json")
    obs = obs_batch(1)
    obs = {IMG: obs[IMG][0], "observation.state": obs["observation.state"][0], "task": "turn left"}
    a = post(p.select_action(pre(dict(obs))))
    b = post(q.select_action(pre2(dict(obs))))
    assert torch.equal(a, b)
    sd_p, sd_q = p.state_dict(), q.state_dict()
    assert sd_p.keys() == sd_q.keys() and all(torch.equal(sd_p[k], sd_q[k]) for k in sd_p)


def test_latent_pretraining_without_actions_then_a_clear_error_at_inference(tiny_qwen2_vl_dir, tiny_lam_dir):
    from lerobot_wbvla.policies.wbvla import WbvlaPolicy

    cfg = make_config(tiny_qwen2_vl_dir, tiny_lam_dir)
    cfg.input_features = {IMG: cfg.input_features[IMG]}
    cfg.output_features = {}
    p = WbvlaPolicy(cfg, dataset_meta=SimpleNamespace(root=Path("/nonexistent"), fps=30, features={}))
    batch = obs_batch(2, time_axis=True)
    del batch["observation.state"]
    _, logs = p.forward(batch)
    assert set(logs) == {"loss_latent_mse", "loss_code_ce", "code_accuracy"}
    p.eval()
    with pytest.raises(RuntimeError, match="fine-tune it on robot demos"):
        p.select_action(obs_batch(1))


def test_bad_inputs_give_one_clear_error(tiny_qwen2_vl_dir, tiny_lam_dir):
    from lerobot_wbvla.policies.wbvla.backbone import VLMUnavailableError
    from lerobot_wbvla.policies.wbvla.processor_wbvla import WbvlaTaskProcessorStep

    with pytest.raises(ValueError, match="image_keys names 'observation.images.wrist'"):
        make_policy(tiny_qwen2_vl_dir, None, image_keys=["observation.images.wrist"])
    with pytest.raises(ValueError, match="lam_camera_key"):
        make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, lam_camera_key="observation.images.left_wrist")
    with pytest.raises(VLMUnavailableError, match="nobody/no-such-vlm"):
        make_policy(Path("nobody/no-such-vlm"), None)
    with pytest.raises(ValueError, match="needs a task instruction"):
        WbvlaTaskProcessorStep().complementary_data({})
    with pytest.raises(ValueError, match="empty task"):
        WbvlaTaskProcessorStep().complementary_data({"task": ["  "]})
    with pytest.raises(ValueError, match="--policy.vlm_training='half'"):
        make_config(tiny_qwen2_vl_dir, None, vlm_training="half")


def test_sidecar_mode_names_the_codes_of_another_revision(tmp_path, tiny_qwen2_vl_dir, tiny_lam_dir):
    from lerobot_wbvla.policies.wbvla.lam_teacher import LAMMismatchError

    other = tmp_path / "lam_codes" / "me__lam@v1.parquet"
    other.parent.mkdir()
    other.write_bytes(b"")  # its name is enough: the policy's LAM has no file here
    with pytest.raises(LAMMismatchError, match=r"no codes of LAM .*only me__lam@v1.parquet.*wbvla-lam-label"):
        make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, dataset_meta=meta(tmp_path), teacher_labels="sidecar")
    # auto: no sidecar for this LAM -> labels on the fly, no error
    assert make_policy(tiny_qwen2_vl_dir, tiny_lam_dir, dataset_meta=meta(tmp_path))._sidecar is None


def test_training_frames_get_camera_noise_and_lighting_evaluation_frames_do_not(
    tiny_qwen2_vl_dir, monkeypatch
):
    p = make_policy(tiny_qwen2_vl_dir, None)
    seen: list[torch.Tensor] = []
    original = p.vlm.prepare

    def spy(images, tasks):
        seen.append(images[0].clone())
        return original(images, tasks)

    monkeypatch.setattr(p.vlm, "prepare", spy)
    batch = train_batch()
    p.train()
    p.forward(batch)
    p.eval()
    p.forward(batch)
    raw = batch[IMG][:, 0]
    assert not torch.allclose(seen[0], raw, atol=1e-3), "training frames were not augmented"
    assert seen[0].min() >= 0 and seen[0].max() <= 1
    assert torch.equal(seen[1], raw)
    p.config.camera_augment = False
    p.train()
    p.forward(batch)
    assert torch.equal(seen[2], raw)
