"""Training curves of the LAM: one JSON line and one CSV row per logging step, and a PNG plot of them.

The files are appended as training goes, so a killed run keeps its curves; on resume, rows after the resumed
step (logged by the killed run after its last checkpoint) are dropped so that the curves have no duplicate steps.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

CURVES = (
    ("loss", ("forward_loss", "copy_baseline_loss", "codebook_loss", "commitment_loss")),
    ("relative forward loss (1 = copy the current frame)", ("relative_forward_loss",)),
    ("codebook usage (share of codes used)", ("codebook_usage",)),
    ("perplexity of code use", ("perplexity",)),
)


class MetricsLog:
    def __init__(self, output_dir: Path) -> None:
        self.jsonl = Path(output_dir) / "metrics.jsonl"
        self.csv = Path(output_dir) / "metrics.csv"
        self.png = Path(output_dir) / "metrics.png"

    def read(self) -> list[dict]:
        if not self.jsonl.is_file():
            return []
        rows = []
        for line in self.jsonl.read_text().splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a kill
                    continue
        return rows

    def truncate_after(self, step: int) -> None:
        """Keep rows up to ``step`` (called on resume) and rewrite both files from them."""
        rows = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.jsonl.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, self.jsonl)
        self._write_csv(rows)

    def append(self, row: dict) -> None:
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
        self._write_csv(self.read())

    def _write_csv(self, rows: list[dict]) -> None:
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        tmp = self.csv.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.csv)

    def plot(self) -> Path | None:
        """Write metrics.png (one panel per curve group); None when nothing was logged yet."""
        rows = self.read()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(CURVES), 1, figsize=(7, 2.4 * len(CURVES)), sharex=True)
        steps = [r["step"] for r in rows]
        for ax, (title, keys) in zip(axes, CURVES, strict=True):
            for key in keys:
                values = [r.get(key) for r in rows]
                if any(v is not None for v in values):
                    ax.plot(steps, [float("nan") if v is None else v for v in values], label=key)
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
            if len(keys) > 1:
                ax.legend(fontsize=7)
        axes[-1].set_xlabel("step")
        fig.tight_layout()
        tmp = self.png.with_name(".metrics.tmp.png")
        fig.savefig(tmp, dpi=80)
        plt.close(fig)
        os.replace(tmp, self.png)
        return self.png
