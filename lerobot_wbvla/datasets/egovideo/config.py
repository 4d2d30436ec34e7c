"""Configuration of the egocentric video generator (`wbvla-gen-egovideo`, `generate(cfg)`).

Every field is documented so that `wbvla-gen-egovideo --help` explains it. Ranges are (low, high) and are sampled
uniformly per clip from the clip's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVES
from lerobot_wbvla.datasets.egovideo_common.config import check_ranges, validate_common


@dataclass
class MotionConfig:
    """Ranges of the body motions, chosen to match human/humanoid walking (realistic egocentric video)."""

    # Forward walking speed (m/s). Slow indoor walking is 0.3-0.8 m/s.
    walk_speed: tuple[float, float] = (0.3, 0.8)
    # Sideways stepping speed (m/s).
    sidestep_speed: tuple[float, float] = (0.2, 0.4)
    # Turning-in-place rate (deg/s).
    turn_rate_deg: tuple[float, float] = (30.0, 60.0)
    # Squat depth (m): how far the head goes down.
    squat_depth: tuple[float, float] = (0.2, 0.4)
    # Mean vertical head speed while squatting (m/s); with the depth it sets the squat_down/squat_up durations.
    squat_speed: tuple[float, float] = (0.25, 0.5)
    # Duration of each reach phase, out and back (s).
    reach_seconds: tuple[float, float] = (0.5, 1.0)
    # Steps per second while walking (sets the head-bob frequency).
    walk_cadence: tuple[float, float] = (1.6, 2.1)
    # Steps per second while sidestepping or turning in place.
    shuffle_cadence: tuple[float, float] = (1.2, 1.8)
    # Scale of the gait head bob (vertical bounce, sway, roll). 1.0 = 1-2.5 cm bounce when walking,
    # 0.5-1.5 cm when sidestepping; 0 turns the bob off.
    head_bob: float = 1.0
    # Scale of the slow head jitter present in every frame (breathing, balance): 1.0 = a few mm and ~0.3 deg.
    # 0 makes stand_still frames exactly still.
    head_jitter: float = 1.0
    # Eye (camera) height when standing (m); 1.35 m is a short humanoid, 1.70 m a tall adult.
    eye_height: tuple[float, float] = (1.35, 1.70)
    # Downward pitch of the head camera (deg); the hands in their rest pose sit in the lower part of the view.
    camera_pitch_deg: tuple[float, float] = (18.0, 30.0)
    # Vertical field of view of the head camera (deg).
    fovy_deg: tuple[float, float] = (70.0, 85.0)


@dataclass
class EgoVideoConfig:
    """Generate labelled egocentric clips of a kinematic body in procedurally textured MuJoCo rooms."""

    # Output root: <out_dir>/clips/<clip_id>.mp4 and <out_dir>/labels.jsonl (CONTRACTS.md "Egocentric video").
    out_dir: Path = Path("outputs/egovideo")
    # Replace out_dir if it exists (the new dataset is built aside and swapped in only when complete).
    overwrite: bool = False
    # Number of clips in total (train + heldout).
    num_clips: int = 90
    # Frames per second of the clips.
    fps: int = 30
    # Frame height in pixels (even: H.264 with yuv420p needs even sizes).
    height: int = 224
    # Frame width in pixels (even).
    width: int = 224
    # Length of every clip (s); n_frames = round(clip_seconds * fps).
    clip_seconds: float = 3.0
    # Base seed. Clip seeds are seed * 1_000_000 + j; the same seed always gives the same clips.
    seed: int = 0
    # Share of clips in the "heldout" split. Held-out clips use held-out seeds: a seed's split is a fixed
    # function of the seed, so a seed never changes split when num_clips changes.
    heldout_fraction: float = 0.1
    # Held-out clips also use colour palette families that train clips never use (appearance shift).
    heldout_palettes: bool = False
    # Primitives to draw clips from (clip-level names: walk_forward, sidestep_left, sidestep_right, turn_left,
    # turn_right, squat, reach_left, reach_right, stand_still). Each clip's first primitive cycles through this
    # list by seed.
    primitives: list[str] = field(default_factory=lambda: list(PRIMITIVES))
    # Give two-phase primitives (squat, reach_left, reach_right) twice as many clips, so that each of their motion
    # classes (squat_down, squat_up, ...) gets about as many frames as walk_forward or turn_left. False: every
    # primitive gets the same number of clips.
    balance_phases: bool = True
    # Share of clips that play a sequence of several primitives instead of one primitive with stand-stills
    # around it.
    sequence_fraction: float = 0.25
    # Most primitives in a sequence clip (at least 2).
    max_sequence_length: int = 3
    # Stand-still before and after a single primitive, each sampled in this range (s).
    still_seconds: tuple[float, float] = (0.2, 0.5)
    # Body motion ranges.
    motion: MotionConfig = field(default_factory=MotionConfig)
    # H.264 constant rate factor (0 = lossless, 18 = visually lossless, 23 = x264's default).
    crf: int = 18
    # 4x multisample anti-aliasing (smoother edges, but about 2x slower on a CPU rasteriser).
    antialias: bool = False
    # Worker processes rendering clips in parallel (each has its own OpenGL context); 1 = in this process.
    num_workers: int = 1
    # Also write <out_dir>/contact_sheet.png: a few frames of the first clips of each primitive, for a look.
    contact_sheet: bool = True
    # Show a progress bar of the clips rendered.
    progress: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the bad field and what to do."""
        validate_common(self)
        check_ranges("motion", self.motion)

    @property
    def n_frames(self) -> int:
        """Frames per clip."""
        return round(self.clip_seconds * self.fps)
