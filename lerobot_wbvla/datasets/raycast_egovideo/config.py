"""Configuration of the ray-cast egocentric video generator (`wbvla-gen-raycast-egovideo`, `generate(cfg)`).

This is the project's second, independent egocentric domain: a numpy ray caster with its own lens model, rooms,
textures, lighting, robot arms and motion profiles. The motion ranges below are chosen OUTSIDE the ranges of the
MuJoCo generator (`lerobot_wbvla.datasets.egovideo.config.MotionConfig`), so a model trained there and probed here
meets speeds, heights and lenses it never saw. Ranges are (low, high), sampled uniformly per clip from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVES
from lerobot_wbvla.datasets.egovideo_common.config import check_ranges, validate_common


@dataclass
class RaycastMotionConfig:
    """Body motion ranges. Defaults lie outside egovideo's (given in brackets) on purpose."""

    # Forward walking speed (m/s) at full stride [egovideo 0.3-0.8].
    walk_speed: tuple[float, float] = (0.9, 1.3)
    # Sideways stepping speed (m/s) [egovideo 0.2-0.4].
    sidestep_speed: tuple[float, float] = (0.45, 0.7)
    # Turning-in-place rate (deg/s) [egovideo 30-60].
    turn_rate_deg: tuple[float, float] = (65.0, 100.0)
    # Squat depth (m): how far the eyes go down [egovideo 0.2-0.4].
    squat_depth: tuple[float, float] = (0.3, 0.42)
    # Mean vertical eye speed while squatting (m/s) [egovideo 0.25-0.5]; with the depth it sets the phase length.
    squat_speed: tuple[float, float] = (0.55, 0.8)
    # Duration of each reach phase, out and back (s) [egovideo 0.5-1.0]. Kept >= 0.37 s so that a phase at 30 fps
    # holds 11+ frames and so labelled pairs at a frame gap of 10.
    reach_seconds: tuple[float, float] = (0.38, 0.48)
    # How far the gripper travels on a reach (m, straight line from rest to target).
    reach_distance: tuple[float, float] = (0.35, 0.5)
    # Steps per second while walking (sets the head-bob frequency) [egovideo 1.6-2.1].
    walk_cadence: tuple[float, float] = (2.2, 2.7)
    # Steps per second while sidestepping or turning [egovideo 1.2-1.8].
    shuffle_cadence: tuple[float, float] = (1.9, 2.5)
    # Scale of the gait head motion. 1.0 = a 3-8 mm bounce plus a 0.6-1.4 deg pitch nod at every step while
    # walking, a 1-2 deg side-to-side roll while sidestepping [egovideo: a 1-2.5 cm bounce and sway, no nod]; 0 = off.
    head_bob: float = 1.0
    # Scale of the head jitter in every frame: 1.0 = about 1 mm and 0.1 deg at 0.3-1.2 Hz. 0 makes stand_still
    # frames exactly still.
    head_jitter: float = 1.0
    # Eye (camera) height when standing (m) [egovideo 1.35-1.70]: a short robot.
    eye_height: tuple[float, float] = (1.0, 1.3)
    # Downward pitch of the head camera (deg) [egovideo 18-30].
    camera_pitch_deg: tuple[float, float] = (8.0, 16.0)
    # Time at each end of a locomotion phase over which the speed ramps between 0.6 and 1 times full speed (s);
    # the speed never drops below 0.6 times full speed inside a phase.
    ramp_seconds: float = 0.1


@dataclass
class LensConfig:
    """The camera model: a pinhole with non-square pixels, an off-centre principal point and a radial lens
    (MuJoCo's camera is an ideal centred pinhole with square pixels)."""

    # Vertical field of view of the pinhole before the lens term (deg) [egovideo 70-85]. The lens widens the
    # corners further.
    fovy_deg: tuple[float, float] = (92.0, 104.0)
    # Pixel aspect fy / fx (non-square pixels).
    pixel_aspect: tuple[float, float] = (0.9, 1.1)
    # Principal point offset from the image centre, as a fraction of the image size (each axis, either sign).
    principal_offset: tuple[float, float] = (0.02, 0.07)
    # Radial lens term k1: a ray leaves pixel radius r (normalised) at r * (1 + k1 r^2 + k2 r^4); > 0 bends
    # straight lines outward like a wide-angle action camera (barrel look).
    k1: tuple[float, float] = (0.06, 0.18)
    # Radial lens term k2.
    k2: tuple[float, float] = (0.0, 0.04)
    # Darkening towards the corners: pixel value x (1 - vignette * r^2), r = 1 at the corners.
    vignette: tuple[float, float] = (0.2, 0.45)


@dataclass
class RaycastEgoVideoConfig:
    """Generate labelled egocentric clips with a numpy ray caster (a second, independent domain; no MuJoCo)."""

    # Output root: <out_dir>/clips/<seed:09d>_<primitive>.mp4, <out_dir>/labels.jsonl, generator.json,
    # contact_sheet.png (CONTRACTS.md "Egocentric video", the same contract as wbvla-gen-egovideo).
    out_dir: Path = Path("outputs/raycast_egovideo")
    # Replace out_dir if it exists (the new dataset is built aside and swapped in only when complete).
    overwrite: bool = False
    # Number of clips in total (train + heldout).
    num_clips: int = 180
    # Frames per second of the clips.
    fps: int = 30
    # Frame height in pixels (even: H.264 with yuv420p needs even sizes).
    height: int = 64
    # Frame width in pixels (even).
    width: int = 64
    # Length of every clip (s); n_frames = round(clip_seconds * fps).
    clip_seconds: float = 1.5
    # Base seed. Clip seeds are seed * 1_000_000 + j; the same seed always gives the same clips.
    seed: int = 0
    # Share of clips in the "heldout" split (whole primitive cycles of seeds, a fixed function of the seed, as in
    # wbvla-gen-egovideo). As a probe domain, "train" clips can fit a linear probe and "heldout" ones score it.
    heldout_fraction: float = 0.5
    # Primitives to draw clips from (walk_forward, sidestep_left, sidestep_right, turn_left, turn_right, squat,
    # reach_left, reach_right, stand_still). Each clip's first primitive cycles through this list by seed.
    primitives: list[str] = field(default_factory=lambda: list(PRIMITIVES))
    # Give two-phase primitives (squat, reach_left, reach_right) twice as many clips, so each of their motion
    # classes gets about as many frames as a one-phase class.
    balance_phases: bool = True
    # Share of clips that play a sequence of several primitives instead of one primitive between stand-stills.
    sequence_fraction: float = 0.2
    # Most primitives in a sequence clip (at least 2; a sequence that does not fit the clip is shortened).
    max_sequence_length: int = 2
    # Stand-still before and after a single primitive, each sampled in this range (s).
    still_seconds: tuple[float, float] = (0.1, 0.3)
    # Shortest locomotion phase in a sequence clip (s).
    min_locomotion_seconds: float = 0.4
    # Body motion ranges.
    motion: RaycastMotionConfig = field(default_factory=RaycastMotionConfig)
    # Camera model ranges.
    lens: LensConfig = field(default_factory=LensConfig)
    # Rays per pixel side: 2 casts 2x2 rays per pixel and averages them (smoother edges, ~4x the render time).
    supersample: int = 1
    # H.264 constant rate factor (0 = lossless, 18 = visually lossless, 23 = x264's default).
    crf: int = 18
    # Worker processes rendering clips in parallel; 1 = in this process.
    num_workers: int = 1
    # Also write <out_dir>/contact_sheet.png: a few frames of the first clip of each primitive, for a look.
    contact_sheet: bool = True
    # Show a progress bar.
    progress: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the bad field and what to do."""
        validate_common(self)
        if not 1 <= self.supersample <= 4:
            raise ValueError(f"supersample={self.supersample}: use 1 (off) to 4 rays per pixel side.")
        if self.min_locomotion_seconds <= 0:
            raise ValueError(f"min_locomotion_seconds={self.min_locomotion_seconds}: must be > 0.")
        check_ranges("motion", self.motion)
        check_ranges("lens", self.lens)
        for name in ("head_bob", "head_jitter", "ramp_seconds"):
            if getattr(self.motion, name) < 0:
                raise ValueError(f"motion.{name}={getattr(self.motion, name)}: must be >= 0.")
        if self.lens.fovy_deg[1] >= 150:
            raise ValueError(
                f"lens.fovy_deg={self.lens.fovy_deg}: must stay below 150 deg (a pinhole's limit)."
            )

    @property
    def n_frames(self) -> int:
        """Frames per clip."""
        return round(self.clip_seconds * self.fps)
