"""LMO export (lmo/export.py): ONNX + TorchScript + layout + lmo.json, the normaliser inside, atomic writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from tensordict import TensorDict

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib: the helper module beside us

from lmo_export_helpers import META, article_layout, make_export, random_actor  # noqa: E402

from lerobot_wbvla.lmo import export as ex  # noqa: E402
from lerobot_wbvla.lmo.layout import ObservationLayout  # noqa: E402
from lerobot_wbvla.lmo.mdp.observations import STANCE  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, object, ObservationLayout]:
    layout = article_layout()
    actor = random_actor(layout, seed=3)
    out = ex.export_lmo(actor, layout, tmp_path_factory.mktemp("lmo") / "export", {**META, "iteration": 7})
    return out, actor, layout


def _onnx(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path / ex.POLICY_ONNX), providers=["CPUExecutionProvider"])


def test_export_files_and_metadata(exported):
    out, _, layout = exported
    assert sorted(p.name for p in out.iterdir()) == sorted(ex.EXPORT_FILES)
    assert ObservationLayout.load(out) == layout and layout.size == 294
    meta = json.loads((out / ex.LMO_FILE).read_text())
    assert meta["format"] == ex.EXPORT_FORMAT
    assert meta["action_scale"] == [0.25] * 12 and meta["clip_actions"] == 10.0 and meta["control_hz"] == 50
    assert meta["leg_joints"] == list(LEG_JOINTS)
    np.testing.assert_allclose(meta["stance"], STANCE)
    assert (meta["conditioning"], meta["latent_dim"], meta["lam"], meta["lam_revision"]) == (
        "latent",
        256,
        "wbvla-tests/lam",
        "v1",
    )
    assert meta["training"] == {"iteration": 7, "seed": 0}
    assert meta["onnx_max_abs_diff"] <= ex.ONNX_TOLERANCE
    sess = _onnx(out)
    (inp,), (outp,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.shape[1], inp.type) == ("obs", 294, "tensor(float)")
    assert (outp.name, outp.shape[1]) == ("actions", 12)
    assert not list(out.parent.glob(".export.*")), "temporary folders left beside the export"


def test_onnx_matches_torch_on_1000_random_observations(exported):
    out, actor, layout = exported
    diff = ex.verify_onnx(out, n=1000, seed=0)
    print(f"\nONNX vs TorchScript max |diff| over 1000 observations: {diff:.3g}")
    assert diff <= 1e-5
    # ... and against the RSL-RL actor itself (deterministic mean), on observations around its normaliser's data.
    rng = np.random.default_rng(1)
    mean = actor.obs_normalizer.mean.numpy()
    std = actor.obs_normalizer.std.numpy()
    obs = (mean + std * rng.standard_normal((1000, layout.size))).astype(np.float32)
    with torch.inference_mode():
        want = actor(TensorDict({"policy": torch.from_numpy(obs)}, batch_size=[1000])).numpy()
    got = _onnx(out).run(["actions"], {"obs": obs})[0]
    assert np.abs(got - want).max() <= 1e-5
    # Any batch size (the runtime runs N=1, evaluation N envs).
    for n in (1, 7):
        assert _onnx(out).run(["actions"], {"obs": obs[:n]})[0].shape == (n, 12)


def test_observation_normaliser_is_inside_the_export(exported):
    out, actor, layout = exported
    obs = torch.randn(64, layout.size) * 3 + 2
    got = _onnx(out).run(["actions"], {"obs": obs.numpy()})[0]
    with torch.inference_mode():
        normalised = actor.mlp(actor.obs_normalizer(obs)).numpy()
        raw = actor.mlp(obs).numpy()
    np.testing.assert_allclose(got, normalised, atol=1e-5)
    assert np.abs(got - raw).max() > 1e-2


def test_exception_mid_export_leaves_nothing(tmp_path, monkeypatch):
    layout = ObservationLayout(conditioning="none")
    actor = random_actor(layout)

    def broken_onnx(module, size, path):
        path.write_bytes(b"half an onnx file")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(ex, "_export_onnx", broken_onnx)
    with pytest.raises(RuntimeError, match="mid-export"):
        ex.export_lmo(actor, layout, tmp_path / "export", META)
    assert list(tmp_path.iterdir()) == []


def test_failed_reexport_keeps_the_earlier_export_and_a_good_one_replaces_it(tmp_path, monkeypatch):
    layout = ObservationLayout(conditioning="command")
    out = make_export(tmp_path / "export", layout, seed=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with monkeypatch.context() as m:
        m.setattr(ex, "verify_onnx", lambda *a, **k: 1.0)  # an export whose ONNX would not match
        with pytest.raises(ex.ExportError, match="differs from the torch policy"):
            make_export(out, layout, seed=1)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    make_export(out, layout, seed=1)
    assert (out / ex.POLICY_ONNX).read_bytes() != before[ex.POLICY_ONNX]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_bad_inputs_are_refused_before_writing(tmp_path):
    layout = ObservationLayout(conditioning="none")
    actor = random_actor(layout)
    with pytest.raises(ex.ExportError, match="reads 42 observation values, the layout has 294"):
        ex.export_lmo(actor, article_layout(), tmp_path / "a", META)
    with pytest.raises(ValueError, match="action_scale"):
        ex.export_lmo(actor, layout, tmp_path / "b", {"iteration": 3})
    with pytest.raises(ValueError, match="action_scale"):
        ex.export_lmo(actor, layout, tmp_path / "c", {"action_scale": [0.25] * 11})
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_100.pt").write_bytes(b"checkpoint")
    with pytest.raises(FileExistsError, match="not an earlier LMO export"):
        ex.export_lmo(actor, layout, run, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
