"""The LMO's arm clip library: procedural clips over the arms' full range within speed limits, deterministic from
the seed; dataset clips resampled exactly; stacking, saving and the empty-library error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lerobot_wbvla.lmo import procedural
from lerobot_wbvla.lmo.clips import (
    ARM_DIM,
    ARM_KEYS,
    CONTROL_HZ,
    ArmClip,
    ClipLibrary,
    arm_limits,
    clips_from_dataset,
    procedural_clips,
    resample,
)
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, LOCO_KEYS


@pytest.fixture(scope="module")
def library() -> ClipLibrary:
    return procedural_clips(50, seed=0)


def test_procedural_clips_cover_each_arm_joints_full_range(library):
    lo, hi = arm_limits()
    values = np.concatenate([c.arm for c in library])
    span = (values.max(axis=0) - values.min(axis=0)) / (hi - lo)
    low = {ARM_KEYS[i]: round(float(s), 2) for i, s in enumerate(span) if s < 0.8}
    assert not low, f"joints whose clips span < 80% of their range: {low}"
    assert {c.kind for c in library} == {"reach", "carry", "push"}


def test_procedural_clips_stay_within_joint_ranges_and_speed_limits(library):
    lo, hi = arm_limits()
    vmax, amax = procedural.arm_speed_limits()
    stance = procedural.stance_arm()
    for c in library:
        assert c.arm.dtype == np.float32 and c.arm.shape == (c.num_steps, ARM_DIM)
        assert (c.arm >= lo - 1e-6).all() and (c.arm <= hi + 1e-6).all(), c.name
        vel = np.abs(np.diff(c.arm.astype(np.float64), axis=0)) * CONTROL_HZ
        acc = np.abs(np.diff(c.arm.astype(np.float64), 2, axis=0)) * CONTROL_HZ**2
        assert (vel <= vmax * 1.001 + 1e-4).all(), f"{c.name}: speed {(vel / vmax).max():.3f} of the limit"
        assert (acc <= amax * 1.01 + 1e-2).all(), (
            f"{c.name}: acceleration {(acc / amax).max():.3f} of the limit"
        )
        # Starts and ends in the stance, so clips chain and an episode ends with the arms home.
        np.testing.assert_allclose(c.arm[0], stance, atol=1e-6)
        np.testing.assert_allclose(c.arm[-1], stance, atol=1e-3, err_msg=c.name)
        assert 4.0 <= c.duration_s <= 10.0


def test_procedural_locomotion_schedule_uses_every_mode_within_limits(library):
    loco = np.concatenate([c.loco for c in library])
    vx, vy, yaw, height = loco.T
    assert np.abs(vx).max() <= 0.5 and np.abs(vy).max() <= 0.4 and np.abs(yaw).max() <= 0.8
    squat = height[height != 0]
    assert len(squat) and squat.min() >= lb.min_height() and squat.max() <= lb.max_height()
    assert squat.min() < lb.nominal_height() - 0.05  # a real squat, not rounding
    assert (
        (vx > 0.3).any()
        and (vy > 0.1).any()
        and (vy < -0.1).any()
        and (yaw > 0.2).any()
        and (yaw < -0.2).any()
    )
    assert (height == 0).mean() > 0.5  # mostly the nominal height


def test_carry_and_push_clips_hold_their_pose_while_walking(library):
    carry = [c for c in library if c.kind == "carry"]
    push = [c for c in library if c.kind == "push"]
    assert carry and push
    for c in carry:
        assert 0.5 <= c.payload_kg_hint <= 5.0
        walking = np.abs(c.loco[:, :3]).sum(axis=1) > 0
        if walking.any():  # grippers closed whenever the carry walks
            assert (c.arm[walking, 14:] > 0.99).all(), c.name
    for c in push:
        assert c.payload_kg_hint is None
        assert c.arm[:, 0].min() < -1.0 and c.arm[:, 7].min() < -1.0, (
            "shoulders pitched forward: arms out in front"
        )
    assert any((c.loco[:, 0] > 0.1).any() for c in push)


def test_procedural_clips_are_deterministic_from_the_seed():
    a, b, c = procedural_clips(6, seed=3), procedural_clips(6, seed=3), procedural_clips(6, seed=4)
    for x, y in zip(a, b, strict=True):
        assert x.name == y.name and np.array_equal(x.arm, y.arm) and np.array_equal(x.loco, y.loco)
    assert not all(np.array_equal(x.arm, y.arm) for x, y in zip(a, c, strict=True))
    # Clip i is the same whatever the library size.
    longer = procedural_clips(9, seed=3)
    assert np.array_equal(longer[5].arm, a[5].arm) and longer[5].content_hash() == a[5].content_hash()


def test_stack_pads_with_the_last_row_and_reports_lengths(library):
    lib = ClipLibrary(library.clips[:4])
    st = lib.stack()
    lengths = [c.num_steps for c in lib]
    assert st["lengths"].tolist() == lengths
    assert st["arm"].shape == (4, max(lengths), 16) and st["loco"].shape == (4, max(lengths), 4)
    assert st["latent"] is None
    for i, c in enumerate(lib):
        np.testing.assert_array_equal(st["arm"][i, : c.num_steps], c.arm)
        assert (st["arm"][i, c.num_steps :] == c.arm[-1]).all()
        assert (st["loco"][i, c.num_steps :] == c.loco[-1]).all()


def test_empty_library_and_partial_latents_are_clear_errors(library):
    with pytest.raises(ValueError, match="no clips: .*procedural_clips"):
        ClipLibrary().stack()
    with pytest.raises(ValueError, match="no clips"):
        ClipLibrary().save("unused")
    assert "0 clips" in ClipLibrary().summary()
    c0, c1 = library[0], library[1]
    half = ClipLibrary([ArmClip(**{**vars(c0), "latent": np.zeros((c0.num_steps, 8))}), c1])
    with pytest.raises(ValueError, match="attach_latents"):
        half.stack()


def test_arm_clip_rejects_values_outside_the_joint_ranges(library):
    arm = library[0].arm.copy()
    arm[3, ARM_KEYS.index("left_elbow.pos")] = 0.5  # the elbow stops at 0
    with pytest.raises(ValueError, match="left_elbow.pos"):
        ArmClip("bad", "reach", "test", arm, library[0].loco)
    with pytest.raises(ValueError, match="loco must be"):
        ArmClip("bad", "reach", "test", library[0].arm, library[0].loco[:-1])


def test_save_load_round_trip_and_half_written_folder(tmp_path, library):
    clips = [
        ArmClip(**{**vars(c), "latent": np.full((c.num_steps, 5), i, np.float32)})
        for i, c in enumerate(library)
    ]
    lib = ClipLibrary(clips[:5], latent_info={"lam": "x/y", "latent_dim": 5})
    folder = lib.save(tmp_path / "lib")
    back = ClipLibrary.load(folder)
    assert back.latent_info == lib.latent_info and len(back) == 5
    for a, b in zip(lib, back, strict=True):
        assert (a.name, a.kind, a.source, a.payload_kg_hint) == (b.name, b.kind, b.source, b.payload_kg_hint)
        assert (
            np.array_equal(a.arm, b.arm)
            and np.array_equal(a.loco, b.loco)
            and np.array_equal(a.latent, b.latent)
        )
    assert back.stack()["latent"].shape == (5, max(c.num_steps for c in lib), 5)
    lib.save(folder)  # overwrite in place
    index = json.loads((folder / "index.json").read_text())
    index["token"] = "stale"
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="half written"):
        ClipLibrary.load(folder)
    with pytest.raises(FileNotFoundError, match="no clip library"):
        ClipLibrary.load(tmp_path / "nothing")


def test_resample_keeps_shared_samples_and_interpolates_between():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(31, 3)).astype(np.float32)  # 1 s at 30 fps
    out = resample(values, 30.0)
    assert out.shape == (51, 3)
    np.testing.assert_array_equal(out[::5], values[::3])  # t = 0, 0.1, ... s on both grids
    # t = 0.02 s is 0.6 of the way from frame 0 to frame 1.
    np.testing.assert_allclose(out[1], values[0] + 0.6 * (values[1] - values[0]), rtol=1e-6)


def test_clips_from_a_lerobot_record_dataset_are_its_actions_at_50hz(x2_record_dataset):
    import pyarrow.parquet as pq

    lib = clips_from_dataset(root=x2_record_dataset, progress=False)
    table = pq.read_table(sorted((x2_record_dataset / "data").rglob("*.parquet")))
    names = json.loads((x2_record_dataset / "meta" / "info.json").read_text())["features"]["action"]["names"]
    assert list(names) == list(ACTION_KEYS)
    actions = np.stack(table.column("action").to_pylist()).astype(np.float32)
    episodes = np.asarray(table.column("episode_index"))
    assert len(lib) == len(set(episodes.tolist())) == 2
    for c in lib:
        ep = c.meta["episode_index"]
        own = actions[episodes == ep]
        assert c.kind == "dataset:pick_place" and c.meta["fps"] == 30
        assert c.num_steps == (len(own) - 1) * 5 // 3 + 1
        # Where the 50 Hz and 30 fps grids meet (every 0.1 s) the clip holds the dataset's own values.
        np.testing.assert_array_equal(c.arm[::5], own[::3, :16][: len(c.arm[::5])])
        np.testing.assert_array_equal(c.loco[::5], own[::3, 16:][: len(c.loco[::5])])
        assert [k.removeprefix("loco.") for k in LOCO_KEYS] == ["vx", "vy", "yaw_rate", "height"]
    one = clips_from_dataset(root=x2_record_dataset, episodes=[1], progress=False)
    assert len(one) == 1 and np.array_equal(one[0].arm, lib[1].arm)
    with pytest.raises(FileNotFoundError, match="no LeRobot dataset"):
        clips_from_dataset(root=x2_record_dataset / "missing")


def test_standing_keeps_the_arm_motion_and_zeroes_the_command(library):
    # clips.loco=stand (a stander's training) and the perturbation test's loco=stand: same arms, zero command.
    standing = library.standing()
    assert len(standing) == len(library)
    assert any(np.abs(c.loco).max() > 0 for c in library)  # the schedule does walk
    for before, after in zip(library, standing, strict=True):
        np.testing.assert_array_equal(after.arm, before.arm)
        assert after.loco.shape == before.loco.shape and not after.loco.any()
        assert after.name == before.name
