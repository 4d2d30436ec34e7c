"""What `wbvla-eval-lmo` writes for people: the Markdown table, the plots and the MP4s.

Kept apart from the evaluation loop so the loop's results (a plain dict, `results.json`) are the one source: every
table cell and plot here is drawn from that dict (plus the raw per-step CoM margins for the histograms), never
recomputed differently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MD_FILE = "results.md"


def _fmt(x: Any, scale: float = 1.0, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x) * scale:.{digits}f}"


def _ci(value: Any, ci: Sequence[Any] | None, scale: float = 1.0, digits: int = 2) -> str:
    if ci is None or any(v is None or not math.isfinite(float(v)) for v in ci):
        return _fmt(value, scale, digits)
    return f"{_fmt(value, scale, digits)} [{_fmt(ci[0], scale, digits)}, {_fmt(ci[1], scale, digits)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


# ---------------------------------------------------------------------------------------------- markdown
def markdown(results: Mapping[str, Any]) -> str:
    """results.md: the headline table (one row per policy, a column per metric, 95% CIs), then one table per
    scenario and the differences to the reference policy."""
    policies = results["policies"]
    pert = results.get("perturbation")
    loco = results.get("locomotion")
    sway = results.get("sway")
    commands = list(loco["commands"]) if loco else []
    header = ["policy", "conditioning"]
    if pert:
        header += ["falls", "fall rate [95% CI]", "CoM margin (cm) [95% CI]", "min CoM margin (cm)"]
    header += [f"{c} vel err (m/s)" for c in commands]
    if loco:
        header += ["loco fall rate"]
    if sway:
        header += [f"sway {p} (cm)" for p in sway["postures"]]
    rows = []
    for p in policies:
        label = p["label"]
        row = [f"`{label}`", p["conditioning"] or "–"]
        if pert:
            m = pert["per_policy"][label]
            row += [
                f"{m['falls']}/{m['episodes']}",
                _ci(m["fall_rate"], m["fall_rate_ci"], digits=3),
                _ci(m["com_margin_mean"], m["com_margin_mean_ci"], 100, 2),
                _fmt(m["com_margin_min"], 100, 2),
            ]
        if loco:
            per = loco["per_policy"][label]
            row += [_fmt(per[c]["vel_error"], digits=3) for c in commands]
            row += [_fmt(per["_all"]["fall_rate"], digits=3)]
        if sway:
            row += [_fmt(sway["per_policy"][label][q]["com_sway_m"], 100, 2) for q in sway["postures"]]
        rows.append(row)

    out = ["# wbvla-eval-lmo", ""]
    cfg = results.get("config", {})
    out += [
        f"{len(policies)} policies on the same seeded episodes (seed {cfg.get('seed')}, clip seed "
        f"{cfg.get('clip_seed')}), the training env's physics. Falls: Wilson 95% intervals; CoM margins: mean over "
        "episodes of each episode's mean (min) signed distance of the CoM inside the support polygon, normal 95% "
        "interval.",
        "",
    ]
    out += _table(header, rows)
    if pert:
        out += ["", "## Perturbation", "", pert["description"], ""]
        ref = pert.get("reference")
        diff_rows = []
        for label, d in pert.get("differences", {}).items():
            diff_rows.append(
                [
                    f"`{label}` − `{ref}`",
                    _ci(d["fall_rate"], d["fall_rate_ci"], digits=3),
                    _ci(d["com_margin_mean"], d["com_margin_mean_ci"], 100, 2),
                ]
            )
        if diff_rows:
            out += _table(["difference", "fall rate [95% CI]", "CoM margin (cm) [95% CI, paired]"], diff_rows)
        pooled = pert.get("pooled") or {}
        if pooled:
            rows = [
                [
                    group,
                    ", ".join(f"`{lab}`" for lab in g["policies"]),
                    f"{g['falls']}/{g['episodes']}",
                    _ci(g["fall_rate"], g["fall_rate_ci"], digits=3),
                    _ci(g["com_margin_mean"], g["com_margin_mean_ci"], 100, 2),
                ]
                for group, g in pooled.items()
            ]
            out += ["", "Exports pooled by conditioning (their seeds' episodes together):", ""]
            out += _table(
                ["conditioning", "policies", "falls", "fall rate [95% CI]", "CoM margin (cm) [95% CI]"], rows
            )
        times = [
            [f"`{p['label']}`", _fmt(pert["per_policy"][p["label"]]["fall_time_s_mean"], digits=2)]
            for p in policies
        ]
        out += [""] + _table(["policy", "mean time to fall (s)"], times)
    if loco:
        out += ["", "## Locomotion", "", loco["description"], ""]
        rows = []
        for p in policies:
            for c in commands:
                m = loco["per_policy"][p["label"]][c]
                rows.append(
                    [
                        f"`{p['label']}`",
                        c,
                        _ci(m["fall_rate"], m["fall_rate_ci"], digits=3),
                        _fmt(m["vel_error"], digits=3),
                        _fmt(m["mean_vel_error"], digits=3),
                        _fmt(m["yaw_rate_error"], digits=3),
                        _fmt(m["position_error_m"], digits=3),
                        _fmt(m["heading_error_rad"], digits=3),
                    ]
                )
        out += _table(
            [
                "policy",
                "command",
                "fall rate [95% CI]",
                "vel err (m/s)",
                "mean-vel err (m/s)",
                "yaw-rate err (rad/s)",
                "position err (m)",
                "heading err (rad)",
            ],
            rows,
        )
    if sway:
        out += ["", "## CoM sway", "", sway["description"], ""]
        rows = []
        for p in policies:
            for q in sway["postures"]:
                m = sway["per_policy"][p["label"]][q]
                rows.append(
                    [
                        f"`{p['label']}`",
                        q,
                        _ci(m["com_sway_m"], m["com_sway_m_ci"], 100, 2),
                        _fmt(m["height_m"], digits=3),
                        _fmt(m["height_target_m"], digits=3),
                        _ci(m["fall_rate"], m["fall_rate_ci"], digits=3),
                    ]
                )
        out += _table(
            ["policy", "posture", "CoM sway (cm) [95% CI]", "pelvis height (m)", "target (m)", "fall rate"],
            rows,
        )
    files = results.get("files", {})
    if files:
        out += ["", "## Files", ""] + [f"- {k}: `{v}`" for k, v in files.items() if isinstance(v, str)]
        out += [f"- video: `{v}`" for v in files.get("videos", [])]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------- plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars_with_ci(ax, labels: list[str], groups: dict[str, list[dict]], title: str) -> None:
    """Grouped bars of fall rates with asymmetric Wilson error bars: one group per key of `groups`."""
    width = 0.8 / max(len(labels), 1)
    x = np.arange(len(groups))
    for j, label in enumerate(labels):
        rates = np.array([g[j]["fall_rate"] for g in groups.values()], dtype=float)
        lo = np.array([g[j]["fall_rate_ci"][0] for g in groups.values()], dtype=float)
        hi = np.array([g[j]["fall_rate_ci"][1] for g in groups.values()], dtype=float)
        # As lists: matplotlib's check of a (2, N) array trips a numpy deprecation warning.
        err = [np.clip(rates - lo, 0, None).tolist(), np.clip(hi - rates, 0, None).tolist()]
        ax.bar(x + (j - (len(labels) - 1) / 2) * width, rates, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(x, list(groups), rotation=20 if len(groups) > 3 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fall rate (95% Wilson CI)")
    ax.set_title(title)


def plot_fall_rates(results: Mapping[str, Any], path: Path) -> Path:
    labels = [p["label"] for p in results["policies"]]
    panels = []
    if "perturbation" in results:
        per = results["perturbation"]["per_policy"]
        panels.append(("perturbation", {"arm clips + payload + pushes": [per[lab] for lab in labels]}))
    if "locomotion" in results:
        per = results["locomotion"]["per_policy"]
        cmds = list(results["locomotion"]["commands"])
        panels.append(("locomotion", {c: [per[lab][c] for lab in labels] for c in cmds}))
    if "sway" in results:
        per = results["sway"]["per_policy"]
        panels.append(("sway", {q: [per[lab][q] for lab in labels] for q in results["sway"]["postures"]}))
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 4.2), squeeze=False)
    for ax, (title, groups) in zip(axes[0], panels, strict=False):
        _bars_with_ci(ax, labels, groups, title)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_com_margins(
    step_margins: Mapping[str, np.ndarray], episode_mins: Mapping[str, np.ndarray], path: Path
) -> Path:
    """Histograms of the CoM margin at every control step the robot was up, and of each episode's minimum."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, data, title in (
        (axes[0], step_margins, "CoM margin, every step while up"),
        (axes[1], episode_mins, "CoM margin, per-episode minimum"),
    ):
        finite = [np.asarray(v)[np.isfinite(v)] * 100 for v in data.values()]
        values = np.concatenate(finite) if finite and any(f.size for f in finite) else np.zeros(1)
        bins = np.linspace(min(values.min(), -2.0), max(values.max(), 10.0), 50)
        for label, v in zip(data, finite, strict=True):
            if v.size:
                ax.hist(
                    v, bins=bins, histtype="step", density=True, linewidth=1.5, label=f"{label} (n={v.size})"
                )
        ax.axvline(0.0, color="k", linewidth=0.8, linestyle=":")
        ax.set_xlabel("CoM margin (cm; < 0: outside the support polygon)")
        ax.set_ylabel("density")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_velocity_tracking(results: Mapping[str, Any], path: Path) -> Path:
    """Per command: the episode-mean velocity along the commanded axis (yaw rate for turns) over time, per
    policy, against the command (episodes count while they are up)."""
    loco = results["locomotion"]
    commands = loco["commands"]
    plt = _pyplot()
    n = len(commands)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, (name, cmd) in zip(axes.flat, commands.items(), strict=False):
        axis = int(np.argmax(np.abs(cmd)))
        unit = "rad/s" if axis == 2 else "m/s"
        for p in results["policies"]:
            curve = loco["per_policy"][p["label"]][name]["curve"]
            ax.plot(curve["t"], curve["value"], label=p["label"])
        ax.axhline(cmd[axis], color="k", linestyle="--", linewidth=1, label="command")
        ax.set_title(f"{name}: {['vx', 'vy', 'yaw rate'][axis]}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(unit)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- videos
class EpisodeVideo:
    """An H.264 MP4 of one env slot, rendered with a camera that tracks the pelvis, written frame by frame (pyav).

    The renderer is created at the first frame, after the episode's reset, because MuJoCo uploads the heightfield
    to the GL context at creation and the terrain is randomized at reset."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, every: int) -> None:
        self.path = Path(path)
        self.height, self.width = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # yuv420p: even sizes
        self.fps, self.every = fps, max(1, every)
        self._renderer = None
        self._camera = None
        self._container = None
        self._stream = None
        self.frames = 0
        self.done = False

    def add(self, model, data, body: int, step: int, up: bool) -> None:
        if self.done:
            return
        if not up:
            self.done = True
            return
        if step % self.every:
            return
        import mujoco

        if self._renderer is None:
            self._renderer = mujoco.Renderer(model, self.height, self.width)
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            cam.trackbodyid = body
            cam.distance, cam.azimuth, cam.elevation = 2.6, 135.0, -15.0
            self._camera = cam
        self._renderer.update_scene(data, camera=self._camera)
        self._write(self._renderer.render())

    def _write(self, rgb: np.ndarray) -> None:
        import av

        if self._container is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), mode="w")
            stream = self._container.add_stream("libx264", rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"}
            self._stream = stream
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path | None:
        """Flush and close; the file's path, or None when no frame was rendered."""
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        return self.path if self.frames else None
