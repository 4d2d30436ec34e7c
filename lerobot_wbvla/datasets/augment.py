"""Camera noise and lighting changes for the X2 cameras, one implementation for record time and train time.

The WholeBodyVLA article randomises camera noise and lighting when it collects data in simulation. Here:

- `augment_image(image, lighting, noise)` is the one kernel: a lighting change (exposure gain, light colour,
  gamma, a linear light gradient across the image as from a side light) followed by sensor noise (read noise,
  plus shot noise growing with the square root of the signal), clamped to [0, 1].
- Train time: `CameraNoiseLighting` is a torchvision v2 transform, usable as a LeRobotDataset `image_transforms`
  (it receives each camera frame as float (3, H, W) in [0, 1]) and, by name, in LeRobot's
  `--dataset.image_transforms.tfs='{x2: {type: X2CameraNoiseLighting, kwargs: {...}}}'` once this module is
  imported (the plugin imports it).
- Record time: `RecordTimeAugmenter` turns uint8 HxWx3 frames into augmented uint8 frames; the lighting stays
  fixed within an episode (`new_episode()` draws a new one) while the noise is new in every frame, like a real
  camera under one light. It is seeded, so a recording can be reproduced. `CameraAugmentStep` wraps it as a
  LeRobot observation processor step (registered as `x2_camera_augment`), for LeRobot's `record()`
  (`robot_observation_processor=`) or any robot-observation pipeline; a robot backend can call the augmenter
  directly on its rendered frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from lerobot.processor import ObservationProcessorStep, ProcessorStepRegistry, RobotProcessorPipeline
from lerobot.processor.converters import observation_to_transition, transition_to_observation
from lerobot.transforms import transforms as lerobot_transforms
from torchvision.transforms.v2 import Transform

Range = tuple[float, float]


@dataclass
class CameraAugmentConfig:
    """Ranges the augmentation parameters are drawn from (uniformly; gamma log-uniformly)."""

    # Exposure gain multiplying the image (1 = unchanged).
    brightness: Range = (0.6, 1.4)
    # Per-channel gain of the light colour / white balance (each of R, G, B drawn independently).
    color_gain: Range = (0.85, 1.15)
    # Gamma applied to the [0, 1] image (< 1 brightens the shadows, > 1 darkens them).
    gamma: Range = (0.8, 1.25)
    # Strength s of a light gradient: the gain goes from 1 - s to 1 + s across the image, in a random direction.
    gradient: Range = (0.0, 0.3)
    # Standard deviation of the additive Gaussian read noise (fraction of full scale).
    read_noise: Range = (0.0, 0.03)
    # Shot noise: standard deviation = shot_noise * sqrt(pixel value).
    shot_noise: Range = (0.0, 0.03)

    def __post_init__(self) -> None:
        for name in ("brightness", "color_gain", "gamma", "gradient", "read_noise", "shot_noise"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(
                    f"camera augment range {name}={getattr(self, name)} must be (low, high), low <= high"
                )
            if lo < 0 or (name in ("brightness", "color_gain", "gamma") and lo <= 0):
                raise ValueError(f"camera augment range {name}={getattr(self, name)} must be positive")
        if self.gradient[1] >= 1:
            raise ValueError(f"camera augment gradient must stay below 1, got {self.gradient}")


@dataclass(frozen=True)
class Lighting:
    brightness: float = 1.0
    color_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    gradient: float = 0.0
    gradient_angle: float = 0.0  # rad, direction in which the light gets stronger


@dataclass(frozen=True)
class Noise:
    read: float = 0.0
    shot: float = 0.0
    seed: int = 0


def _uniform(rng: torch.Generator | None, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand((), generator=rng).item()


def sample_lighting(cfg: CameraAugmentConfig, rng: torch.Generator | None = None) -> Lighting:
    """Draw a lighting condition (`rng=None` uses torch's global generator, as LeRobot's transforms do)."""
    log_gamma = _uniform(rng, math.log(cfg.gamma[0]), math.log(cfg.gamma[1]))
    return Lighting(
        brightness=_uniform(rng, *cfg.brightness),
        color_gain=tuple(_uniform(rng, *cfg.color_gain) for _ in range(3)),
        gamma=math.exp(log_gamma),
        gradient=_uniform(rng, *cfg.gradient),
        gradient_angle=_uniform(rng, -math.pi, math.pi),
    )


def sample_noise(cfg: CameraAugmentConfig, rng: torch.Generator | None = None) -> Noise:
    return Noise(
        read=_uniform(rng, *cfg.read_noise),
        shot=_uniform(rng, *cfg.shot_noise),
        seed=int(torch.randint(0, 2**62, (), generator=rng).item()),
    )


def augment_image(image: torch.Tensor, lighting: Lighting, noise: Noise) -> torch.Tensor:
    """Apply `lighting` then `noise` to float images (..., 3, H, W) in [0, 1]; returns the same shape in [0, 1]."""
    if not image.is_floating_point():
        raise TypeError(f"augment_image expects a float image in [0, 1], got {image.dtype}")
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"augment_image expects (..., 3, H, W), got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    out = image.clamp(0.0, 1.0).pow(lighting.gamma)
    gain = torch.tensor(lighting.color_gain, dtype=image.dtype, device=image.device).view(3, 1, 1)
    gain = gain * lighting.brightness
    if lighting.gradient > 0:
        ys = torch.linspace(-1.0, 1.0, h, dtype=image.dtype, device=image.device).view(h, 1)
        xs = torch.linspace(-1.0, 1.0, w, dtype=image.dtype, device=image.device).view(1, w)
        proj = xs * math.cos(lighting.gradient_angle) + ys * math.sin(lighting.gradient_angle)
        proj = proj / max(1e-6, float(proj.abs().max()))
        gain = gain * (1.0 + lighting.gradient * proj)
    out = out * gain
    if noise.read > 0 or noise.shot > 0:
        gen = torch.Generator(device=image.device).manual_seed(noise.seed)
        std = torch.sqrt(noise.read**2 + noise.shot**2 * out.clamp(min=0.0))
        out = out + std * torch.randn(out.shape, generator=gen, dtype=image.dtype, device=image.device)
    return out.clamp(0.0, 1.0)


class CameraNoiseLighting(Transform):
    """Train-time transform: a new lighting and noise draw for each call (torch's global generator).

    Accepts float images in [0, 1] (LeRobotDataset frames) and uint8 images (returned as uint8).
    """

    def __init__(self, **ranges: Range) -> None:
        super().__init__()
        self.cfg = CameraAugmentConfig(**{k: tuple(v) for k, v in ranges.items()})

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"lighting": sample_lighting(self.cfg), "noise": sample_noise(self.cfg)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor):
            return inpt
        if inpt.dtype == torch.uint8:
            out = augment_image(inpt.float() / 255.0, params["lighting"], params["noise"])
            return (out * 255.0).round().to(torch.uint8)
        return augment_image(inpt, params["lighting"], params["noise"])


class RecordTimeAugmenter:
    """Record-time augmentation of uint8 HxWx3 frames (what a robot backend returns for its cameras).

    One lighting per episode for all cameras (`new_episode()`), fresh noise per frame and camera. Deterministic
    for a given seed and call sequence.
    """

    def __init__(self, cfg: CameraAugmentConfig | None = None, seed: int = 0) -> None:
        self.cfg = cfg or CameraAugmentConfig()
        self.rng = torch.Generator().manual_seed(seed)
        self.lighting = sample_lighting(self.cfg, self.rng)

    def new_episode(self) -> None:
        self.lighting = sample_lighting(self.cfg, self.rng)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f"RecordTimeAugmenter expects a uint8 (H, W, 3) camera frame, got {frame.dtype} {frame.shape}"
            )
        image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float() / 255.0
        out = augment_image(image, self.lighting, sample_noise(self.cfg, self.rng))
        return (out * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


@ProcessorStepRegistry.register(name="x2_camera_augment")
@dataclass
class CameraAugmentStep(ObservationProcessorStep):
    """Robot-observation step: every uint8 (H, W, 3) camera frame goes through one `RecordTimeAugmenter`.

    A robot observation does not say where episodes start, so the lighting is re-drawn every
    `lighting_period_frames` observations (set it to episode_time_s * fps to get one lighting per episode);
    0 keeps one lighting for the whole session. Non-image entries pass through unchanged.
    """

    ranges: CameraAugmentConfig = field(default_factory=CameraAugmentConfig)
    seed: int = 0
    lighting_period_frames: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.ranges, dict):  # from a saved pipeline config
            self.ranges = CameraAugmentConfig(**{k: tuple(v) for k, v in self.ranges.items()})
        self._augmenter = RecordTimeAugmenter(self.ranges, self.seed)
        self._frames = 0

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        if (
            self.lighting_period_frames > 0
            and self._frames
            and self._frames % self.lighting_period_frames == 0
        ):
            self._augmenter.new_episode()
        self._frames += 1
        out = dict(observation)
        for key, value in observation.items():
            if (
                isinstance(value, np.ndarray)
                and value.dtype == np.uint8
                and value.ndim == 3
                and value.shape[2] == 3
            ):
                out[key] = self._augmenter(value)
        return out

    def reset(self) -> None:
        self._augmenter = RecordTimeAugmenter(self.ranges, self.seed)
        self._frames = 0

    def get_config(self) -> dict[str, Any]:
        return {
            "ranges": asdict(self.ranges),
            "seed": self.seed,
            "lighting_period_frames": self.lighting_period_frames,
        }

    def transform_features(self, features):
        return features


def make_camera_augment_pipeline(
    ranges: CameraAugmentConfig | None = None, seed: int = 0, lighting_period_frames: int = 0
) -> RobotProcessorPipeline:
    """A robot-observation pipeline with only `CameraAugmentStep` (the shape LeRobot's `record()` expects for its
    `robot_observation_processor` argument)."""
    step = CameraAugmentStep(ranges or CameraAugmentConfig(), seed, lighting_period_frames)
    return RobotProcessorPipeline(
        steps=[step], to_transition=observation_to_transition, to_output=transition_to_observation
    )


# Make the transform available by name to LeRobot's `ImageTransformsConfig` (lerobot-train's
# --dataset.image_transforms.tfs); LeRobot looks custom transform names up in this module-level table.
TRANSFORM_NAME = "X2CameraNoiseLighting"
lerobot_transforms._CUSTOM_TRANSFORMS.setdefault(TRANSFORM_NAME, CameraNoiseLighting)

__all__ = [
    "CameraAugmentConfig",
    "CameraAugmentStep",
    "make_camera_augment_pipeline",
    "CameraNoiseLighting",
    "Lighting",
    "Noise",
    "RecordTimeAugmenter",
    "TRANSFORM_NAME",
    "augment_image",
    "sample_lighting",
    "sample_noise",
]
