"""The frozen LAM as the VLA's teacher: its sizes, its labels of frame pairs, and the labels' sidecar file.

The article trains the VLA's latent tokens against a frozen latent action model (LAM). Three things follow:
- the policy's latent sizes are the LAM's (``lam_summary`` reads them from the LAM's ``config.json`` alone, so a
  config is built without loading any weights), and a policy checkpoint paired with another LAM is refused
  (``LAMTeacher.check_compatible``, ``LAMMismatchError``);
- labels computed during training (``LAMTeacher.labels``) are the numbers ``wbvla-lam-label`` writes for the same
  frames: both call lam/label.py's one implementation of "frames -> codes, z_q";
- labels read from the sidecar (``CodesSidecar``) must come from the very weights of the teacher: the file records
  the LAM's weights fingerprint, and a file written by other weights is refused rather than silently trained on.

``LAMTeacher`` is deliberately not an ``nn.Module`` held by the policy: its weights never enter the policy's state
dict, optimizer or checkpoint (the policy stores the LAM's id and revision instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lerobot_wbvla.datasets import resolve_frame_gap
from lerobot_wbvla.lam.label import (
    LAM_CODES_DIR,
    META_LAM,
    META_LAM_FINGERPRINT,
    META_LAM_REVISION,
    LabellingLAM,
    codes_file_name,
    display_revision,
    label_pairs,
    lam_fingerprint,
    load_labelling_lam,
)
from lerobot_wbvla.lam.modeling_lam import CONFIG_NAME, load_lam_config, resolve_lam_dir

__all__ = [
    "CodesSidecar",
    "LAMMismatchError",
    "LAMTeacher",
    "MissingCodesError",
    "check_lam_sizes",
    "lam_summary",
    "lam_weights_fingerprint",
]


class LAMMismatchError(ValueError):
    """The LAM does not fit the policy (latent sizes), or a codes sidecar was written by another LAM."""


class MissingCodesError(LookupError):
    """A dataset frame has no row in the codes sidecar (the dataset changed after it was labelled)."""


def _lam_name(lam: str, revision: str | None) -> str:
    return f"{lam}@{display_revision(lam, revision)}"


def lam_summary(lam: str, revision: str | None = None) -> dict[str, Any]:
    """The sizes a policy takes from its LAM, read from the LAM's ``config.json`` only (no weights downloaded).

    ``lam``: local folder or Hub repo id (at ``revision``). Returns ``{"latent_dim": size of one code vector,
    "num_codes": codes per transition, "codebook_size", "is_vq": True, "frame_gap": int or "auto",
    "target_offset_s"}``.
    """
    if Path(lam).expanduser().is_dir():
        folder = resolve_lam_dir(lam, revision)
    else:  # a Hub id: fetch config.json alone; the weights come when (and only if) the teacher is loaded
        from lerobot_wbvla.hub import resolve_pretrained_dir

        folder = Path(
            resolve_pretrained_dir(
                lam,
                revision=revision,
                allow_patterns=[CONFIG_NAME],
                kind="lam",
                required_files=[CONFIG_NAME],
            )
        )
    config = load_lam_config(folder)
    return {
        "latent_dim": int(config.model.latent_dim),
        "num_codes": int(config.model.num_codes),
        "codebook_size": int(config.model.codebook_size),
        "is_vq": True,  # every LAM of this project quantises its latent (lam/quantizer.py)
        "frame_gap": config.frame_gap,
        "target_offset_s": float(config.target_offset_s),
    }


def lam_weights_fingerprint(lam: str, revision: str | None = None) -> str:
    """``LAMTeacher.fingerprint`` without building the LAM (nor loading its encoder): enough to verify a sidecar
    when training reads labels from it only."""
    return lam_fingerprint(resolve_lam_dir(lam, revision))


def check_lam_sizes(
    lam_sizes: dict[str, Any],
    lam_name: str,
    latent_dim: int,
    num_codes: int,
    codebook_size: int,
) -> None:
    """Raise ``LAMMismatchError`` naming every size of the policy that differs from the LAM's.

    ``lam_sizes`` holds ``latent_dim`` (one code vector), ``num_codes`` and ``codebook_size`` (``lam_summary``'s
    keys); the policy's values are compared with the same meaning.
    """
    given = {"latent_dim": latent_dim, "num_codes": num_codes, "codebook_size": codebook_size}
    diffs = [f"{k} {v} (policy) vs {lam_sizes[k]} (LAM)" for k, v in given.items() if int(v) != lam_sizes[k]]
    if diffs:
        raise LAMMismatchError(
            f"the policy's latent sizes do not match the LAM {lam_name}: {', '.join(diffs)}. Use the LAM (and "
            "revision) the policy was trained with, or train the policy from scratch with this LAM (its sizes "
            "are read from the LAM's config.json, never typed)."
        )


class LAMTeacher:
    """A frozen LAM that labels frame pairs (o_t, o_t+k) with latent action codes and their vectors."""

    def __init__(self, labeller: LabellingLAM) -> None:
        self._lam = labeller
        mcfg = labeller.model.config.model
        self.latent_dim: int = int(mcfg.latent_dim)  # size of one code vector
        self.num_codes: int = int(mcfg.num_codes)
        self.codebook_size: int = int(mcfg.codebook_size)
        self.is_vq: bool = True

    @classmethod
    def load(
        cls,
        lam: str,
        revision: str | None = None,
        device: str | torch.device = "cpu",
        flag: str = "--policy.lam",
    ) -> LAMTeacher:
        """Load the LAM (local folder or Hub repo id at ``revision``) frozen, in eval mode, on ``device``.

        ``flag`` names the option that chose the LAM in errors (e.g. its encoder cannot be loaded here).
        """
        return cls(load_labelling_lam(lam, revision, device=device, flag=flag))

    # ------------------------------------------------------------------------------------------- identity
    @property
    def lam(self) -> str:
        return self._lam.lam

    @property
    def revision(self) -> str | None:
        return self._lam.revision

    @property
    def fingerprint(self) -> str:
        """First 16 hex of the sha256 of the LAM's model.safetensors (what a codes sidecar must carry)."""
        return self._lam.fingerprint

    @property
    def name(self) -> str:
        """``<lam>@<revision>`` as messages and sidecar files name it."""
        return _lam_name(self.lam, self.revision)

    @property
    def flat_latent_dim(self) -> int:
        """num_codes * latent_dim: the size of z_q flattened over its codes (a sidecar row's ``z``)."""
        return self.num_codes * self.latent_dim

    @property
    def device(self) -> torch.device:
        return self._lam.device

    def to(self, device: str | torch.device) -> LAMTeacher:
        """Move the LAM (and its encoder, which is outside the module tree) to ``device``."""
        self._lam.model.to(device)
        self._lam.model.encoder.to(device)
        return self

    # -------------------------------------------------------------------------------------------- labels
    def frame_gap(self, fps: float) -> int:
        """The k of the LAM's pairs at ``fps`` (its own frame_gap, or "auto" resolved with its target offset)."""
        cfg = self._lam.model.config
        return resolve_frame_gap(cfg.frame_gap, fps, cfg.target_offset_s)

    @torch.no_grad()
    def labels(self, frames_t: torch.Tensor, frames_tk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames (B, 3, H, W), float in [0, 1] (LeRobot's layout, any H, W) or uint8, of o_t and o_t+k ->
        (codes (B, num_codes) long, z_q (B, num_codes, latent_dim) float32) on the LAM's device.

        The same numbers ``wbvla-lam-label`` writes for these frames (lam/label.py ``label_pairs``).
        """
        for name, frames in (("frames_t", frames_t), ("frames_tk", frames_tk)):
            if frames.ndim != 4 or frames.shape[1] != 3:
                raise ValueError(
                    f"LAMTeacher.labels: {name} must be (B, 3, H, W) camera frames, got {tuple(frames.shape)}."
                )
        return label_pairs(self._lam, frames_t, frames_tk)

    def check_compatible(self, latent_dim: int, num_codes: int, codebook_size: int) -> None:
        """Raise ``LAMMismatchError`` when the policy's sizes differ from this LAM's.

        ``latent_dim`` is the size of one code vector (the policy's flattened z is num_codes * latent_dim).
        """
        sizes = {
            "latent_dim": self.latent_dim,
            "num_codes": self.num_codes,
            "codebook_size": self.codebook_size,
        }
        check_lam_sizes(sizes, self.name, latent_dim, num_codes, codebook_size)


class CodesSidecar:
    """The codes ``wbvla-lam-label`` wrote beside a dataset, looked up by the dataset's global frame ``index``.

    The whole file is held in memory as two tensors (a few hundred bytes per frame), with a dense index ->
    row table, so a lookup is one gather.
    """

    def __init__(
        self,
        path: Path,
        codes: torch.Tensor,
        z_q: torch.Tensor,
        index: torch.Tensor,
        lam: str | None,
        revision: str | None,
        fingerprint: str | None,
    ) -> None:
        self.path = Path(path)
        self.codes = codes  # (N, num_codes) long
        self.z_q = z_q  # (N, num_codes, latent_dim) float32
        self.index = index  # (N,) long, the dataset's global frame index of each row
        self.lam, self.revision, self.fingerprint = lam, revision, fingerprint
        self.num_codes: int = int(codes.shape[1])
        self.latent_dim: int = int(z_q.shape[2])
        self._row = torch.full((int(index.max()) + 1 if len(index) else 0,), -1, dtype=torch.long)
        self._row[index] = torch.arange(len(index))

    @classmethod
    def find(
        cls,
        dataset_root: str | Path,
        lam: str,
        revision: str | None = None,
        expected_fingerprint: str | None = None,
    ) -> CodesSidecar | None:
        """The sidecar of ``lam`` at ``revision`` in ``<dataset_root>/lam_codes/`` (None when there is none).

        With ``expected_fingerprint`` (``LAMTeacher.fingerprint``), a file written by other weights (or one with
        no fingerprint) raises ``LAMMismatchError``.
        """
        path = Path(dataset_root) / LAM_CODES_DIR / codes_file_name(lam, revision)
        if not path.is_file():
            return None
        sidecar = cls.read(path)
        if expected_fingerprint is not None and sidecar.fingerprint != expected_fingerprint:
            written = (
                f"LAM {sidecar.lam}@{sidecar.revision} (fingerprint {sidecar.fingerprint})"
                if sidecar.fingerprint
                else "a LAM it does not name (no weights fingerprint: written by an older wbvla-lam-label)"
            )
            raise LAMMismatchError(
                f"codes in {path} were written by {written}, the policy's LAM is {_lam_name(lam, revision)} "
                f"(fingerprint {expected_fingerprint}): re-run wbvla-lam-label --lam={lam} "
                f"--lam_revision={display_revision(lam, revision)} or pass --policy.teacher_labels=on_the_fly"
            )
        return sidecar

    @classmethod
    def read(cls, path: str | Path) -> CodesSidecar:
        """Load a codes file (docs/CONTRACTS.md "LAM codes") and the LAM it names in its metadata."""
        import numpy as np
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["index", "codes", "z"])
        meta = table.schema.metadata or {}
        codes = np.array(table.column("codes").combine_chunks().flatten(), dtype=np.int64)
        z = np.array(table.column("z").combine_chunks().flatten(), dtype=np.float32)
        n = table.num_rows
        num_codes = len(codes) // max(n, 1)
        if n == 0 or num_codes == 0 or len(codes) != n * num_codes or len(z) % (n * num_codes):
            raise ValueError(
                f"{path} is not a valid LAM codes file ({n} rows, {len(codes)} codes, {len(z)} z values): "
                "re-run wbvla-lam-label."
            )

        def text(key: bytes) -> str | None:
            return meta[key].decode() if key in meta else None

        return cls(
            path=Path(path),
            codes=torch.from_numpy(codes.reshape(n, num_codes)),
            z_q=torch.from_numpy(z.reshape(n, num_codes, -1)),
            index=torch.from_numpy(np.array(table.column("index").to_numpy(), dtype=np.int64)),
            lam=text(META_LAM),
            revision=text(META_LAM_REVISION),
            fingerprint=text(META_LAM_FINGERPRINT),
        )

    def __len__(self) -> int:
        return len(self.index)

    def lookup(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dataset global ``index`` (B,) -> codes (B, num_codes) long, z_q (B, num_codes, latent_dim) float32,
        on ``index``'s device."""
        flat = torch.as_tensor(index).reshape(-1).long().cpu()
        known = (flat >= 0) & (flat < len(self._row))
        rows = torch.full_like(flat, -1)
        rows[known] = self._row[flat[known]]
        if (rows < 0).any():
            missing = flat[rows < 0].unique()[:8].tolist()
            raise MissingCodesError(
                f"frames with index {missing} have no codes in {self.path} (it covers {len(self)} frames, index "
                f"{int(self.index.min())}..{int(self.index.max())}): the dataset changed after labelling; re-run "
                "wbvla-lam-label on it or pass --policy.teacher_labels=on_the_fly"
            )
        device = index.device if isinstance(index, torch.Tensor) else torch.device("cpu")
        return self.codes[rows].to(device), self.z_q[rows].to(device)
