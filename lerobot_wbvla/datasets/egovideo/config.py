"""Configuration of the egocentric video generator (`wbvla-gen-egovideo`, `generate(cfg)`).

Every field is documented so that `wbvla-gen-egovideo --help` explains it. Ranges are (low, high) and are sampled
uniformly per clip from the clip's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVES


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
        if self.num_clips < 1:
            raise ValueError(f"num_clips={self.num_clips}: need at least 1 clip.")
        if self.fps < 1:
            raise ValueError(f"fps={self.fps}: need a positive frame rate.")
        if self.height < 16 or self.width < 16 or self.height % 2 or self.width % 2:
            raise ValueError(
                f"height={self.height}, width={self.width}: both must be even and >= 16 "
                "(H.264 yuv420p needs even sizes)."
            )
        n_frames = round(self.clip_seconds * self.fps)
        if n_frames < 8:
            raise ValueError(
                f"clip_seconds={self.clip_seconds} at fps={self.fps} gives {n_frames} frames; need at least 8."
            )
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction={self.heldout_fraction}: must be in [0, 1).")
        if not 0.0 <= self.sequence_fraction <= 1.0:
            raise ValueError(f"sequence_fraction={self.sequence_fraction}: must be in [0, 1].")
        if self.max_sequence_length < 2 and self.sequence_fraction > 0:
            raise ValueError(f"max_sequence_length={self.max_sequence_length}: a sequence needs at least 2.")
        if not self.primitives:
            raise ValueError(f"primitives is empty: choose from {list(PRIMITIVES)}.")
        unknown = [p for p in self.primitives if p not in PRIMITIVES]
        if unknown:
            raise ValueError(f"primitives: unknown {unknown}; choose from {list(PRIMITIVES)}.")
        if len(set(self.primitives)) != len(self.primitives):
            raise ValueError(f"primitives has duplicates: {self.primitives}.")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf={self.crf}: H.264 CRF must be in [0, 51].")
        if self.num_workers < 1:
            raise ValueError(f"num_workers={self.num_workers}: need at least 1.")
        lo, hi = self.still_seconds
        if not 0.0 <= lo <= hi:
            raise ValueError(f"still_seconds={self.still_seconds}: need 0 <= low <= high.")
        for name in MotionConfig.__dataclass_fields__:
            value = getattr(self.motion, name)
            if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1] or value[0] < 0):
                raise ValueError(f"motion.{name}={value}: need a (low, high) pair with 0 <= low <= high.")

    @property
    def n_frames(self) -> int:
        """Frames per clip."""
        return round(self.clip_seconds * self.fps)
