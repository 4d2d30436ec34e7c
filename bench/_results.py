"""What every benchmark shares: where results go, how the machine is described, how a result is written.

A result file is replaced in one step (written beside it, then renamed), so an interrupted benchmark never leaves
a half-written JSON where the project's checks (tests/bench) and reviewers read it.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine_description(with_torch: bool = False) -> str:
    """'x86_64, 2 CPUs[, torch 2.11.0]': enough to tell which machine a figure came from."""
    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    if with_torch:
        import torch  # noqa: PLC0415 (the simulator benchmarks do not need it)

        text += f", torch {torch.__version__}"
    return text


def write_result(path: Path, result: dict) -> None:
    """Write `result` as indented JSON to `path` atomically, and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    print(json.dumps(result, indent=2))
