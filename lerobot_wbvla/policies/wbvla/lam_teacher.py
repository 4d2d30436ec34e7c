"""The frozen LAM as the VLA's teacher: its sizes, its labels of frame pairs, and the labels' sidecar file.

The article trains the VLA's latent tokens against a frozen latent action model (LAM). Three things follow:
- the policy's latent sizes are the LAM's (``lam_summary`` reads them from the LAM's ``config.json`` alone, so a
  config is built without loading any weights), and a policy checkpoint paired with another LAM is refused
  (``LAMTeacher.check_compatible``, ``LAMMismatchError``);
- labels computed during training (``LAMTeacher.labels``) are the numbers ``wbvla-lam-label`` writes for the same
  frames: both run lam/label.py's one implementation, ``label_episode`` (the teacher hands it the B frames t and
  the B frames t+k as one sequence paired B apart);
- labels read from the sidecar (``CodesSidecar``) must come from the very weights of the teacher. The file is
  named by LAM id and revision; its content is checked too: ``CodesSidecar.verify`` compares the sidecar's codes
  of a batch with the teacher's own labels of the same frames, so a file written by other weights (a moved
  revision, a copied file) is refused rather than silently trained on.

``LAMTeacher`` is deliberately not an ``nn.Module`` held by the policy: its weights never enter the policy's state
dict, optimizer or checkpoint (the policy stores the LAM's id and revision instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lerobot_wbvla.datasets import resolve_frame_gap
from lerobot_wbvla.lam.data import encoder_transform
from lerobot_wbvla.lam.encoders import EncoderUnavailableError
from lerobot_wbvla.lam.label import LAM_CODES_DIR, codes_file_name, label_episode
from lerobot_wbvla.lam.modeling_lam import CONFIG_NAME, LatentActionModel, load_lam_config, resolve_lam_dir

__all__ = [
    "CodesSidecar",
    "LAMMismatchError",
    "LAMTeacher",
    "MissingCodesError",
    "check_lam_sizes",
    "lam_summary",
]

# Below this share of equal codes between a sidecar and the teacher on the same frames, the sidecar was written by
# another LAM (two LAMs agree at about 1 / codebook_size; one LAM on frames decoded by another video backend agrees
# almost everywhere).
MIN_CODE_AGREEMENT = 0.5


class LAMMismatchError(ValueError):
    """The LAM does not fit the policy (latent sizes), or a codes sidecar was written by another LAM."""


class MissingCodesError(LookupError):
    """A dataset frame has no row in the codes sidecar (the dataset changed after it was labelled)."""


def display_revision(lam: str, revision: str | None) -> str:
    """The revision as the codes file name shows it: ``local`` for a folder, ``main`` for a Hub id by default."""
    return revision or ("local" if Path(lam).expanduser().is_dir() else "main")


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

    def __init__(
        self, model: LatentActionModel, lam: str, revision: str | None, batch_size: int = 64
    ) -> None:
        self.model = model.eval().requires_grad_(False)
        self.transform = encoder_transform(model.config.encoder)
        self.lam, self.revision, self.batch_size = lam, revision, batch_size
        mcfg = model.config.model
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
        try:
            model = LatentActionModel.from_pretrained(lam, revision=revision)
            model.encoder  # noqa: B018 (build the frozen encoder now: a missing one fails here, not mid-training)
        except EncoderUnavailableError as err:
            raise err.for_flag(
                f"{flag}={lam}", " or use a LAM whose encoder is a local folder on this machine."
            ) from None
        return cls(model, lam, revision).to(device)

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
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> LAMTeacher:
        """Move the LAM (and its encoder, which is outside the module tree) to ``device``."""
        self.model.to(device)
        self.model.encoder.to(device)
        return self

    def frame_gap(self, fps: float) -> int:
        """The k of the LAM's pairs at ``fps`` (its own frame_gap, or "auto" resolved with its target offset)."""
        cfg = self.model.config
        return resolve_frame_gap(cfg.frame_gap, fps, cfg.target_offset_s)

    @torch.no_grad()
    def labels(self, frames_t: torch.Tensor, frames_tk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames (B, 3, H, W), float in [0, 1] (LeRobot's layout, any H, W) or uint8, of o_t and o_t+k ->
        (codes (B, num_codes) long, z_q (B, num_codes, latent_dim) float32) on the frames' device.

        The numbers ``wbvla-lam-label`` writes for these frames: its ``label_episode`` labels frame i of a
        sequence with frame i+k, so the sequence [frames_t, frames_tk] with k = B pairs each o_t with its o_t+k.
        """
        for name, frames in (("frames_t", frames_t), ("frames_tk", frames_tk)):
            if frames.ndim != 4 or frames.shape[1] != 3:
                raise ValueError(
                    f"LAMTeacher.labels: {name} must be (B, 3, H, W) camera frames, got {tuple(frames.shape)}."
                )
        if frames_t.shape != frames_tk.shape:
            raise ValueError(
                f"LAMTeacher.labels: frames {tuple(frames_t.shape)} and {tuple(frames_tk.shape)} differ."
            )
        b = frames_t.shape[0]
        seq = torch.cat([_to_uint8(frames_t), _to_uint8(frames_tk)]).to(self.device)
        codes, z = label_episode(self.model, seq, b, self.transform, self.batch_size)
        out = frames_t.device
        codes_t = torch.from_numpy(codes[:b]).long().to(out)
        z_t = torch.from_numpy(z[:b]).float().view(b, self.num_codes, self.latent_dim).to(out)
        return codes_t, z_t

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


def _to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """LeRobot's float [0, 1] frames back to the bytes they were decoded from (as the labeller reads them)."""
    if frames.dtype == torch.uint8:
        return frames
    if frames.is_floating_point() and (frames.min() < -1e-3 or frames.max() > 1 + 1e-3):
        raise ValueError(
            "LAMTeacher.labels expects camera frames in [0, 1] (or uint8): pass the frames before any normalisation."
        )
    return (frames * 255.0).round().clamp(0, 255).to(torch.uint8)


class CodesSidecar:
    """The codes ``wbvla-lam-label`` wrote beside a dataset, looked up by the dataset's global frame ``index``.

    The whole file is held in memory as two tensors (a few hundred bytes per frame), with a dense index ->
    row table, so a lookup is one gather.
    """

    def __init__(self, path: Path, codes: torch.Tensor, z_q: torch.Tensor, index: torch.Tensor) -> None:
        self.path = Path(path)
        self.codes = codes  # (N, num_codes) long
        self.z_q = z_q  # (N, num_codes, latent_dim) float32
        self.index = index  # (N,) long, the dataset's global frame index of each row
        self.num_codes: int = int(codes.shape[1])
        self.latent_dim: int = int(z_q.shape[2])
        self._row = torch.full((int(index.max()) + 1 if len(index) else 0,), -1, dtype=torch.long)
        self._row[index] = torch.arange(len(index))

    @staticmethod
    def path_for(dataset_root: str | Path, lam: str, revision: str | None) -> Path:
        return Path(dataset_root) / LAM_CODES_DIR / codes_file_name(lam, revision)

    @classmethod
    def find(cls, dataset_root: str | Path, lam: str, revision: str | None = None) -> CodesSidecar | None:
        """The sidecar of ``lam`` at ``revision`` in ``<dataset_root>/lam_codes/`` (None when there is none)."""
        path = cls.path_for(dataset_root, lam, revision)
        return cls.read(path) if path.is_file() else None

    @staticmethod
    def others(dataset_root: str | Path, lam: str, revision: str | None = None) -> list[Path]:
        """Codes files beside the dataset that are not this LAM's at this revision (for error messages)."""
        mine = CodesSidecar.path_for(dataset_root, lam, revision)
        folder = Path(dataset_root) / LAM_CODES_DIR
        return sorted(p for p in folder.glob("*.parquet") if p != mine) if folder.is_dir() else []

    @classmethod
    def read(cls, path: str | Path) -> CodesSidecar:
        """Load a codes file (docs/CONTRACTS.md "LAM codes")."""
        import numpy as np
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["index", "codes", "z"])
        codes = np.array(table.column("codes").combine_chunks().flatten(), dtype=np.int64)
        z = np.array(table.column("z").combine_chunks().flatten(), dtype=np.float32)
        n = table.num_rows
        num_codes = len(codes) // max(n, 1)
        if n == 0 or num_codes == 0 or len(codes) != n * num_codes or len(z) % (n * num_codes):
            raise ValueError(
                f"{path} is not a valid LAM codes file ({n} rows, {len(codes)} codes, {len(z)} z values): "
                "re-run wbvla-lam-label."
            )
        return cls(
            path=Path(path),
            codes=torch.from_numpy(codes.reshape(n, num_codes)),
            z_q=torch.from_numpy(z.reshape(n, num_codes, -1)),
            index=torch.from_numpy(np.array(table.column("index").to_numpy(), dtype=np.int64)),
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

    def verify(
        self, teacher: LAMTeacher, index: torch.Tensor, frames_t: torch.Tensor, frames_tk: torch.Tensor
    ) -> float:
        """Compare this file's codes of a batch with the teacher's labels of the same frames; raise
        ``LAMMismatchError`` when they disagree (the file was written by another LAM). Returns the agreement."""
        if self.num_codes != teacher.num_codes or self.latent_dim != teacher.latent_dim:
            raise LAMMismatchError(
                f"codes in {self.path} have {self.num_codes} codes x {self.latent_dim} per frame, the LAM "
                f"{teacher.name} {teacher.num_codes} x {teacher.latent_dim}: the file was written by another LAM; "
                f"re-run wbvla-lam-label --lam={teacher.lam} --lam_revision={display_revision(teacher.lam, teacher.revision)} "
                "or pass --policy.teacher_labels=on_the_fly"
            )
        codes, _ = self.lookup(index)
        mine, _ = teacher.labels(frames_t, frames_tk)
        agreement = float((codes.cpu() == mine.cpu()).float().mean())
        if agreement < MIN_CODE_AGREEMENT:
            raise LAMMismatchError(
                f"codes in {self.path} do not match the LAM {teacher.name} on the same frames ({agreement:.0%} of "
                "codes equal): the file was written by another LAM or revision under this name; re-run "
                f"wbvla-lam-label --lam={teacher.lam} --lam_revision={display_revision(teacher.lam, teacher.revision)} "
                "or pass --policy.teacher_labels=on_the_fly"
            )
        return agreement
