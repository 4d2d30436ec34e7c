"""The LMO's observation layout: which blocks, in which order, of which size.

A trained LMO is only usable with the observation it was trained on, so the layout travels with every checkpoint
and export (`layout.json`), and whoever builds an observation for it (the vectorized env, the robot's `lmo`
lower-body controller, the runtime) checks its own layout against the stored one first: a policy trained with a
256-d LAM latent fed a 128-d one, or a `none` policy fed z_t, fails with `LayoutMismatchError` naming both sides,
instead of producing silent garbage at 50 Hz on a robot.

The proprioceptive blocks are the article's (`LMOObservation`): 12 leg joint positions (relative to the stance),
12 velocities, the base quaternion, gyro, accelerometer and 4 foot contacts = 38. The conditioning block decides
what the legs know about the rest of the body:
- `latent` (the article): the LAM's z_t (latent_dim; 38 + 256 = 294 with the article's LAM);
- `command` (the paper): tri-state forward / lateral / yaw flags and the target height, tanh-smoothed (4);
- `none` (the decoupled baseline): the plain locomotion command vx, vy, yaw_rate, height (4), no arm intent.
`history` > 0 appends that many past proprioceptive frames (newest first) after the current observation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONDITIONINGS = ("latent", "command", "none")
PROPRIO_BLOCKS: tuple[tuple[str, int], ...] = (
    ("joint_pos", 12),
    ("joint_vel", 12),
    ("base_quat", 4),
    ("gyro", 3),
    ("accel", 3),
    ("foot_contacts", 4),
)
PROPRIO_SIZE = sum(size for _, size in PROPRIO_BLOCKS)
COMMAND_SIZE = 4  # command / none conditioning: 4 values (see the module docstring)
LAYOUT_FILE = "layout.json"


class LayoutMismatchError(ValueError):
    """An observation built for one layout was about to be fed to a policy trained on another."""


@dataclass(frozen=True)
class ObservationLayout:
    conditioning: str = "latent"
    # Size of z_t (the LAM's latent_dim, read from the LAM's config; 0 unless conditioning == "latent").
    latent_dim: int = 0
    # Past proprioceptive frames appended after the current observation (0 = none).
    history: int = 0
    # The LAM whose latents the policy was trained on (repo id or folder, and revision); informative for
    # `command`/`none`, checked for `latent`.
    lam: str | None = None
    lam_revision: str | None = None
    # Blocks of the critic's privileged extras (after the policy observation), e.g. ("arm_joint_pos", 14).
    privileged: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning={self.conditioning!r}: choose one of {', '.join(CONDITIONINGS)}")
        if self.conditioning == "latent" and self.latent_dim <= 0:
            raise ValueError("conditioning='latent' needs latent_dim > 0 (the LAM's latent size)")
        if self.conditioning != "latent" and self.latent_dim:
            raise ValueError(
                f"latent_dim={self.latent_dim} given with conditioning={self.conditioning!r}; use 0"
            )
        if self.history < 0:
            raise ValueError(f"history must be >= 0, got {self.history}")

    @property
    def conditioning_block(self) -> tuple[str, int] | None:
        if self.conditioning == "latent":
            return ("latent", self.latent_dim)
        return ("command" if self.conditioning == "command" else "locomotion_command", COMMAND_SIZE)

    @property
    def blocks(self) -> list[tuple[str, int]]:
        """The policy observation's blocks in order (name, size)."""
        out = list(PROPRIO_BLOCKS)
        out.append(self.conditioning_block)
        out += [(f"history_{i + 1}", PROPRIO_SIZE) for i in range(self.history)]
        return out

    @property
    def size(self) -> int:
        return sum(size for _, size in self.blocks)

    @property
    def critic_size(self) -> int:
        return self.size + sum(size for _, size in self.privileged)

    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, size in self.blocks:
            out[name] = slice(start, start + size)
            start += size
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        d = asdict(self)
        d["privileged"] = [list(b) for b in self.privileged]
        d["blocks"] = [list(b) for b in self.blocks]
        d["size"] = self.size
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ObservationLayout:
        layout = cls(
            conditioning=d["conditioning"],
            latent_dim=int(d.get("latent_dim", 0)),
            history=int(d.get("history", 0)),
            lam=d.get("lam"),
            lam_revision=d.get("lam_revision"),
            privileged=tuple((str(n), int(s)) for n, s in d.get("privileged", ())),
        )
        if "size" in d and int(d["size"]) != layout.size:
            raise LayoutMismatchError(
                f"layout says size {d['size']} but its blocks add up to {layout.size}: the file was edited or "
                "written by an incompatible version"
            )
        return layout

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / LAYOUT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ObservationLayout:
        path = Path(directory) / LAYOUT_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: an LMO checkpoint or export carries its observation layout in {LAYOUT_FILE}; "
                "point at a folder written by wbvla-train-lmo"
            )
        return cls.from_dict(json.loads(path.read_text()))

    def check(self, other: ObservationLayout, what: str = "observation") -> None:
        """Raise LayoutMismatchError unless `other` (what the caller builds) matches this (what the policy was
        trained on). The LAM is compared for latent conditioning only; a LAM revision of None matches any."""
        problems = []
        if (self.conditioning, self.latent_dim, self.history) != (
            other.conditioning,
            other.latent_dim,
            other.history,
        ):
            problems.append(
                f"trained on conditioning={self.conditioning} latent_dim={self.latent_dim} "
                f"history={self.history} ({self.size} values), given conditioning={other.conditioning} "
                f"latent_dim={other.latent_dim} history={other.history} ({other.size} values)"
            )
        if self.conditioning == "latent" and other.conditioning == "latent" and self.lam and other.lam:
            same_lam = self.lam == other.lam
            same_rev = self.lam_revision is None or other.lam_revision is None
            same_rev = same_rev or self.lam_revision == other.lam_revision
            if not (same_lam and same_rev):
                problems.append(
                    f"trained on the latents of LAM {self.lam}@{self.lam_revision}, given "
                    f"{other.lam}@{other.lam_revision}"
                )
        if problems:
            raise LayoutMismatchError(
                f"LMO {what} layout mismatch: {'; '.join(problems)}. Use the LAM and settings the policy was "
                "trained with, or train an LMO for this one (wbvla-train-lmo)."
            )
