"""VLMBackbone and the tiny VLM builders: every family loads like a Hub model, prepares batch-consistent inputs,
round-trips through save_assets/from_assets, and fails clearly when the VLM cannot be found."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lerobot_wbvla.policies.wbvla.backbone import VLMBackbone, VLMUnavailableError
from lerobot_wbvla.policies.wbvla.tiny_vlm import FAMILIES, build_tiny_vlm, main, make_tiny_vlm

TASKS = [
    "pick up the red box and place it on the green square",
    "walk forward",
    "grab the cart's handles and push the cart forward, then turn left and squat down slowly",
]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _images(b: int, cams: int = 1, hw: tuple[int, int] = (48, 64), seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(b, 3, *hw, generator=g) for _ in range(cams)]


def _run(bb: VLMBackbone, images: list[torch.Tensor], tasks: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    bb.eval()
    with torch.no_grad():
        return bb(bb.prepare(images, tasks))


@pytest.mark.parametrize("family", FAMILIES)
def test_build_and_reload_identical(family: str, tiny_vlm_dirs: dict[str, Path]) -> None:
    path = tiny_vlm_dirs[family]
    info = json.loads((path / "wbvla_tiny_vlm.json").read_text())
    assert info["num_parameters"] < 1_000_000
    a, b = VLMBackbone(str(path)), VLMBackbone(str(path))
    assert a.family == ("idefics3" if family == "smolvlm" else family)
    # The loaded base model holds exactly the built weights (nothing left at random init by the loader).
    built = make_tiny_vlm(family)[0].model.state_dict()
    state = a.vlm.state_dict()
    assert list(state) == list(built)
    for key, value in state.items():
        assert torch.equal(built[key], value), key
    ha, ma = _run(a, _images(2), TASKS[:2])
    hb, mb = _run(b, _images(2), TASKS[:2])
    assert ha.dtype == torch.float32 and ma.dtype == torch.bool
    assert ha.shape[:2] == ma.shape and ha.shape[2] == a.hidden_size
    assert torch.equal(ha, hb) and torch.equal(ma, mb)
    assert torch.isfinite(ha).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_prepare_is_batch_consistent(family: str, tiny_vlm_dirs: dict[str, Path]) -> None:
    bb = VLMBackbone(str(tiny_vlm_dirs[family]), max_text_tokens=16).eval()
    images = _images(3, cams=2)
    batch = bb.prepare(images, TASKS)
    again = bb.prepare(images, TASKS)
    for key in batch:
        assert torch.equal(batch[key], again[key]), key
    longest = bb._length([bb.image_hw(48, 64)] * 2)
    assert batch["input_ids"].shape[1] == longest  # the long third task was cut to max_text_tokens
    with torch.no_grad():
        hidden, mask = bb(batch)
        for i in range(3):
            one = bb.prepare([cam[i : i + 1] for cam in images], TASKS[i : i + 1])
            n = one["input_ids"].shape[1]  # a batch of one is padded to its own length only
            assert n <= longest and bool(one["attention_mask"].all())
            for key in ("input_ids", "attention_mask"):
                assert torch.equal(one[key][0], batch[key][i, :n]), (key, i)
            assert not batch["attention_mask"][i, n:].any()
            h1, m1 = bb(one)
            torch.testing.assert_close(h1[0][m1[0]], hidden[i][mask[i]], atol=1e-5, rtol=1e-4)
    assert mask[2].sum() > mask[1].sum()


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_inputs_equal_the_processor(family: str, tiny_vlm_dirs: dict[str, Path]) -> None:
    """prepare()'s cached-token / torch-pixel path gives exactly the processor's inputs, for two camera setups."""
    bb = VLMBackbone(str(tiny_vlm_dirs[family]), max_text_tokens=16)
    for cams in ([(48, 64)], [(48, 64), (32, 32)]):
        images = _images(3, cams=1, hw=cams[0]) + _images(3, cams=1, hw=cams[-1], seed=1)[: len(cams) - 1]
        hw = tuple(bb.image_hw(*c) for c in cams)
        first = bb.prepare(images, TASKS)  # checks the fast path against the processor
        assert bb._fast_ok[hw] is True, (family, cams)
        for seed, tasks in ((2, TASKS[::-1]), (3, TASKS[1:])):
            images = [
                torch.rand(len(tasks), 3, *c, generator=torch.Generator().manual_seed(seed)) for c in cams
            ]
            fast = bb.prepare(images, tasks)
            resized = [
                torch.nn.functional.interpolate(
                    x, size=s, mode="bilinear", antialias=True, align_corners=False
                )
                if tuple(x.shape[-2:]) != s
                else x
                for x, s in zip(images, hw, strict=True)
            ]
            reference = bb._cut(bb._processor_inputs(resized, tasks), hw)
            assert set(fast) == set(reference) == set(first)
            for key, ref in reference.items():
                torch.testing.assert_close(fast[key], ref.to(fast[key].dtype), atol=1e-6, rtol=0, msg=key)


def test_fast_inputs_fall_back_to_the_processor_when_they_differ(
    tiny_vlm_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    bb = VLMBackbone(str(tiny_vlm_dirs["qwen2_vl"]), max_text_tokens=16)
    ip = bb.processor.image_processor
    bb._fast_pixels = lambda cams: {  # a processor rule the fast path does not know: shifted pixels
        k: v + 0.1 if k == "pixel_values" else v for k, v in type(bb)._fast_pixels(bb, cams).items()
    }
    images = _images(2)
    with caplog.at_level("WARNING"):
        first = bb.prepare(images, TASKS[:2])
    assert "differs from the processor (pixel_values differs by 1.00e-01)" in caplog.text
    assert bb._fast_ok[(bb.image_hw(48, 64),)] is False
    again = bb.prepare(images, TASKS[:2])  # the processor from now on: same inputs as the first call
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert ip is bb.processor.image_processor


@pytest.mark.parametrize("family", FAMILIES)
def test_assets_round_trip(family: str, tiny_vlm_dirs: dict[str, Path], tmp_path: Path) -> None:
    bb = VLMBackbone(str(tiny_vlm_dirs[family]), image_size=64)
    bb.save_assets(tmp_path / "vlm")
    assert (tmp_path / "vlm" / "config.json").is_file()
    assert not list((tmp_path / "vlm").glob("*.safetensors"))
    # only file types LeRobot's push_model_to_hub uploads: what reaches the Hub is the whole backbone
    assert {p.suffix for p in (tmp_path / "vlm").iterdir()} <= {".json", ".yaml", ".md"}
    rebuilt = VLMBackbone.from_assets(tmp_path / "vlm", image_size=64)
    assert (
        rebuilt.prepare(_images(1, hw=(64, 64)), TASKS[:1])["input_ids"].tolist()
        == bb.prepare(_images(1, hw=(64, 64)), TASKS[:1])["input_ids"].tolist()
    )
    assert list(rebuilt.state_dict()) == list(bb.state_dict())
    rebuilt.load_state_dict(bb.state_dict())
    images = _images(2, hw=(64, 64), seed=1)
    h0, m0 = _run(bb, images, TASKS[:2])
    h1, m1 = _run(rebuilt, images, TASKS[:2])
    assert torch.equal(m0, m1)
    torch.testing.assert_close(h0, h1, atol=0, rtol=0)


def test_assets_round_trip_with_lora(tiny_qwen2_vl_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft", reason="peft is not installed in this venv")
    bb = VLMBackbone(str(tiny_qwen2_vl_dir))
    bb.apply_lora(r=4, alpha=8, dropout=0.0, target_modules=None)
    with torch.no_grad():  # LoRA B starts at zero: make the adapters matter for the comparison
        for name, p in bb.named_parameters():
            if "lora_B" in name:
                p.normal_()
    bb.save_assets(tmp_path / "vlm")
    rebuilt = VLMBackbone.from_assets(tmp_path / "vlm")
    rebuilt.apply_lora(r=4, alpha=8, dropout=0.0, target_modules=None)
    assert list(rebuilt.state_dict()) == list(bb.state_dict())
    rebuilt.load_state_dict(bb.state_dict())
    torch.testing.assert_close(_run(bb, _images(2), TASKS[:2]), _run(rebuilt, _images(2), TASKS[:2]))


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl", "smolvlm", "paligemma"])
def test_freeze_vision(family: str, tiny_vlm_dirs: dict[str, Path]) -> None:
    bb = VLMBackbone(str(tiny_vlm_dirs[family]))
    bb.freeze_vision()
    frozen = set(bb.vision_parameter_names())
    assert frozen
    for name, p in bb.named_parameters():
        assert p.requires_grad == (name not in frozen), name
    lm = [n for n, p in bb.named_parameters() if ".layers." in n and p.requires_grad]
    assert lm, "the language model must stay trainable"


def test_apply_lora_trains_only_adapters(tiny_qwen2_vl_dir: Path) -> None:
    pytest.importorskip("peft", reason="peft is not installed in this venv")
    bb = VLMBackbone(str(tiny_qwen2_vl_dir))
    before = bb.param_count()
    bb.apply_lora(r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"])
    trainable = [n for n, p in bb.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert all(".visual." not in n for n in trainable)  # adapters only in the language model
    assert bb.param_count() > before
    hidden, _ = bb(bb.prepare(_images(2), TASKS[:2]))
    hidden.sum().backward()
    assert all(p.grad is not None for n, p in bb.named_parameters() if "lora_A" in n)
    with pytest.raises(ValueError, match="match no module"):
        VLMBackbone(str(tiny_qwen2_vl_dir)).apply_lora(r=4, alpha=8, dropout=0.0, target_modules=["nope"])


def test_missing_vlm_raises_helpful_error(hub_server, tmp_path: Path) -> None:
    with pytest.raises(VLMUnavailableError, match="wbvla-make-vlm") as err:
        VLMBackbone("wbvla-tests/no-such-vlm")  # the local Hub answers 404
    assert "wbvla-tests/no-such-vlm" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(VLMUnavailableError, match="config.json"):
        VLMBackbone(str(tmp_path))  # a folder that holds no model
    with pytest.raises(VLMUnavailableError, match="config.json"):
        VLMBackbone.from_assets(tmp_path)


def test_missing_vlm_offline_subprocess(offline_subprocess_env: dict) -> None:
    code = (
        "from lerobot_wbvla.policies.wbvla.backbone import VLMBackbone, VLMUnavailableError\n"
        "try:\n    VLMBackbone('Qwen/Qwen2-VL-2B-Instruct')\n"
        "except VLMUnavailableError as e:\n    print('UNAVAILABLE', e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=offline_subprocess_env, capture_output=True, text=True, timeout=120
    )
    assert "UNAVAILABLE" in proc.stdout, proc.stderr[-2000:]
    assert "Qwen/Qwen2-VL-2B-Instruct" in proc.stdout and "local folder" in proc.stdout


def test_bad_inputs(tiny_qwen2_vl_dir: Path, tmp_path: Path) -> None:
    bb = VLMBackbone(str(tiny_qwen2_vl_dir))
    with pytest.raises(ValueError, match=r"expected \(2, 3, H, W\)"):
        bb.prepare([torch.rand(3, 3, 32, 32)], TASKS[:2])
    with pytest.raises(TypeError, match="list of strings"):
        bb.prepare([torch.rand(1, 3, 32, 32)], "walk forward")
    with pytest.raises(ValueError, match="family"):
        build_tiny_vlm("llava", tmp_path / "x")
    cfg = json.loads((tiny_qwen2_vl_dir / "config.json").read_text())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(ValueError, match="model_type 'llama'"):
        VLMBackbone(str(tmp_path / "other"))


def test_image_tokens_and_speed(tiny_vlm_dirs: dict[str, Path]) -> None:
    """Documented image-token counts at 64 px, and a forward at batch 2 well under 100 ms on one thread."""
    expected_image_tokens = {"qwen2_vl": 4, "qwen2_5_vl": 4, "idefics3": 16, "smolvlm": 16, "paligemma": 16}
    for family, path in tiny_vlm_dirs.items():
        bb = VLMBackbone(str(path), image_size=64).eval()
        inputs = bb.prepare(_images(2, hw=(64, 64)), TASKS[:2])
        image_id = bb.processor.image_token_id
        assert int((inputs["input_ids"][0] == image_id).sum()) == expected_image_tokens[family], family
        with torch.no_grad():
            bb(inputs)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                bb(inputs)
                times.append(time.perf_counter() - t0)
        assert min(times) < 0.5, (family, times)  # ~10-30 ms unloaded; generous for a busy CI machine


def test_cli_and_smolvla_compatibility(tmp_path: Path, tiny_vlm_dirs: dict[str, Path]) -> None:
    main(["--family=smolvlm", "--size=tiny", f"--out_dir={tmp_path / 'smol'}", "--seed=0"])
    from transformers import AutoConfig, AutoProcessor, SmolVLMConfig

    assert isinstance(AutoConfig.from_pretrained(tmp_path / "smol"), SmolVLMConfig)
    tok = AutoProcessor.from_pretrained(tmp_path / "smol").tokenizer
    assert isinstance(tok.fake_image_token_id, int) and isinstance(tok.global_image_token_id, int)
    assert tok.fake_image_token_id != tok.global_image_token_id
    if importlib.util.find_spec("lerobot.policies.smolvla.smolvlm_with_expert") is None:
        pytest.skip("lerobot's SmolVLA is not installed")
    from lerobot.policies.smolvla.smolvlm_with_expert import SmolVLMWithExpertModel

    expert = SmolVLMWithExpertModel(model_id=str(tmp_path / "smol"), load_vlm_weights=False)
    assert expert.embed_image(torch.rand(1, 3, 64, 64) * 2 - 1).shape == (
        1,
        16,
        expert.config.text_config.hidden_size,
    )
    # Same family and seed -> the same weights: builds are reproducible.
    a = load_file(str(tmp_path / "smol" / "model.safetensors"))
    b = load_file(str(tiny_vlm_dirs["smolvlm"] / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
