"""Which scenes a `wbvla-record-sim` run records, and how a parallel run shares them out (record_sim.py).

A run records a list of episode slots: its tasks in `--tasks` order, each with the episodes it still needs. Slot j
records its attempts on the scene seeds

    base + j * A + (attempt - 1),    A = --max_attempts (1 with --rerecord_failed=false),

where base is `--seed` (on `--resume=true`: one past the largest seed the dataset holds, if that is larger). So
every attempt has its own scene, a slot's scenes depend neither on another episode's outcome nor on which process
records it, and the episodes of a run sorted by task then seed are in slot order: 1 and N worker processes record
the same episodes, in the same order.

A parallel run (`--num_workers=N`) splits each task's slots into N contiguous blocks ("units"), each recorded into
its own temporary LeRobot dataset; concatenating the units in plan order gives the slot order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Slot:
    """One episode of a run: its task (envs/agibot_x2/tasks.py name), its position in the run and its attempts'
    scene seeds (the first attempt that solves the task is kept, else the last)."""

    task: str
    index: int
    seeds: tuple[int, ...]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Slot:
        return cls(
            task=str(data["task"]), index=int(data["index"]), seeds=tuple(int(s) for s in data["seeds"])
        )


def attempts_per_slot(max_attempts: int, rerecord_failed: bool) -> int:
    return max_attempts if rerecord_failed else 1


def make_plan(todo: list[tuple[str, int]], base_seed: int, attempts: int, first_index: int = 0) -> list[Slot]:
    """Slots for `todo` = [(task, episodes still needed), ...] in that order (see the module docstring); their
    indices count on from `first_index` (the episodes the dataset already has)."""
    slots: list[Slot] = []
    for task, count in todo:
        for _ in range(count):
            j = len(slots)
            first = base_seed + j * attempts
            slots.append(Slot(task, first_index + j, tuple(range(first, first + attempts))))
    return slots


def split_units(slots: list[Slot], n: int) -> list[list[Slot]]:
    """Each task's slots in `n` contiguous blocks of near-equal size (no empty block), in plan order: worker
    processes share every task evenly, and the units concatenated in this order are the slots in order."""
    units: list[list[Slot]] = []
    by_task: dict[str, list[Slot]] = {}
    for slot in slots:
        by_task.setdefault(slot.task, []).append(slot)
    for task_slots in by_task.values():
        blocks = min(n, len(task_slots))
        size, extra = divmod(len(task_slots), blocks)
        start = 0
        for b in range(blocks):
            stop = start + size + (1 if b < extra else 0)
            units.append(task_slots[start:stop])
            start = stop
    return sorted(units, key=lambda unit: unit[0].index)
