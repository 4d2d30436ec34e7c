"""The few array operations the LMO's MDP terms need, for numpy arrays and torch tensors alike.

One MDP definition serves two backends (issue 11): the CPU env evaluates the terms on float64 numpy arrays, the
MuJoCo Warp env on float32 torch tensors on its device (CPU or GPU). `namespace(x)` returns the operations of x's
library. The numpy operations are the very numpy functions the terms called before they were made generic, so the
CPU env's numbers do not change by a bit (scripts/lmo_bit_identity.py checks it). array_api_compat would do this
too, but it is not a dependency and the terms need only these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = Any  # np.ndarray | torch.Tensor


class NumpyOps:
    """numpy, as the terms called it."""

    exp = staticmethod(np.exp)
    tanh = staticmethod(np.tanh)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    arctan2 = staticmethod(np.arctan2)
    arcsin = staticmethod(np.arcsin)
    arccos = staticmethod(np.arccos)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    isfinite = staticmethod(np.isfinite)
    nan_to_num = staticmethod(np.nan_to_num)

    @staticmethod
    def clip(x: Array, lo, hi) -> Array:
        return np.clip(x, lo, hi)

    @staticmethod
    def norm(x: Array, axis: int) -> Array:
        return np.linalg.norm(x, axis=axis)

    @staticmethod
    def sum(x: Array, axis: int, keepdims: bool = False) -> Array:
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def amax(x: Array, axis: int) -> Array:
        return x.max(axis=axis)

    @staticmethod
    def all(x: Array, axis: int) -> Array:
        return x.all(axis=axis)

    @staticmethod
    def argmax(x: Array, axis: int) -> Array:
        return np.argmax(x, axis=axis)

    @staticmethod
    def flip(x: Array, axis: int) -> Array:
        return np.flip(x, axis=axis)

    @staticmethod
    def mean(x: Array, axis: int) -> Array:
        return x.mean(axis=axis)

    @staticmethod
    def scalar_mean(x: Array) -> float:
        return float(np.mean(x))

    @staticmethod
    def stack(xs: list, axis: int) -> Array:
        return np.stack(xs, axis=axis)

    @staticmethod
    def concatenate(xs: list, axis: int) -> Array:
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def copy(x: Array) -> Array:
        return x.copy()

    @staticmethod
    def zeros(shape: tuple, like: Array) -> Array:
        return np.zeros(shape)

    @staticmethod
    def full(shape: tuple, value: float, like: Array) -> Array:
        return np.full(shape, value)

    @staticmethod
    def zeros_bool(shape: tuple, like: Array) -> Array:
        return np.zeros(shape, dtype=bool)

    @staticmethod
    def full_index(shape: tuple, value: int, like: Array) -> Array:
        return np.full(shape, value)

    @staticmethod
    def arange(n: int, like: Array) -> Array:
        return np.arange(n)

    @staticmethod
    def as_float(x: Array, like: Array) -> Array:
        """x (a mask or numbers) as floats of `like`'s dtype (numpy: float64, as the terms always had it)."""
        return x.astype(np.float64)

    @staticmethod
    def float32(x: Array) -> Array:
        return x.astype(np.float32)

    @staticmethod
    def const(x: np.ndarray, like: Array) -> Array:
        """A numpy constant (the stance, joint limits) usable with `like`: unchanged for numpy."""
        return x


class TorchOps:
    """torch, on the device and in the float dtype of the tensors it is given."""

    def __init__(self) -> None:
        import torch

        self.t = torch
        self.exp, self.tanh, self.sin, self.cos = torch.exp, torch.tanh, torch.sin, torch.cos
        self.abs, self.sign, self.isfinite = torch.abs, torch.sign, torch.isfinite
        self.arctan2, self.arcsin, self.arccos = torch.atan2, torch.asin, torch.acos
        self.minimum, self.nan_to_num = torch.minimum, torch.nan_to_num

    def where(self, cond: Array, a, b) -> Array:
        t = self.t
        like = a if isinstance(a, t.Tensor) else b
        if not isinstance(a, t.Tensor):
            a = t.as_tensor(a, dtype=like.dtype, device=like.device)
        if not isinstance(b, t.Tensor):
            b = t.as_tensor(b, dtype=like.dtype, device=like.device)
        return t.where(cond, a, b)

    def clip(self, x: Array, lo, hi) -> Array:
        if isinstance(lo, np.ndarray):
            lo, hi = self.const(lo, x), self.const(hi, x)
        return self.t.clamp(x, lo, hi)

    def norm(self, x: Array, axis: int) -> Array:
        return self.t.linalg.vector_norm(x, dim=axis)

    def sum(self, x: Array, axis: int, keepdims: bool = False) -> Array:
        return x.sum(dim=axis, keepdim=keepdims)

    def amax(self, x: Array, axis: int) -> Array:
        return x.amax(dim=axis)

    def all(self, x: Array, axis: int) -> Array:
        return x.all(dim=axis)

    def argmax(self, x: Array, axis: int) -> Array:
        return self.t.argmax(x.to(self.t.uint8) if x.dtype == self.t.bool else x, dim=axis)

    def flip(self, x: Array, axis: int) -> Array:
        return self.t.flip(x, dims=(axis,))

    def mean(self, x: Array, axis: int) -> Array:
        return x.mean(dim=axis)

    def scalar_mean(self, x: Array) -> float:
        return float(x.double().mean())

    def stack(self, xs: list, axis: int) -> Array:
        return self.t.stack(xs, dim=axis)

    def concatenate(self, xs: list, axis: int) -> Array:
        return self.t.cat(xs, dim=axis)

    def copy(self, x: Array) -> Array:
        return x.clone()

    def zeros(self, shape: tuple, like: Array) -> Array:
        return self.t.zeros(shape, dtype=like.dtype, device=like.device)

    def full(self, shape: tuple, value: float, like: Array) -> Array:
        return self.t.full(shape, value, dtype=like.dtype, device=like.device)

    def zeros_bool(self, shape: tuple, like: Array) -> Array:
        return self.t.zeros(shape, dtype=self.t.bool, device=like.device)

    def full_index(self, shape: tuple, value: int, like: Array) -> Array:
        return self.t.full(shape, value, dtype=self.t.long, device=like.device)

    def arange(self, n: int, like: Array) -> Array:
        return self.t.arange(n, device=like.device)

    def as_float(self, x: Array, like: Array) -> Array:
        return x.to(like.dtype)

    def float32(self, x: Array) -> Array:
        return x.to(self.t.float32)

    def const(self, x: np.ndarray, like: Array) -> Array:
        return self.t.as_tensor(x, dtype=like.dtype, device=like.device)


NUMPY = NumpyOps()
_TORCH: TorchOps | None = None


def namespace(x: Array) -> NumpyOps | TorchOps:
    """The operations for x's library: numpy arrays (and numpy scalars) -> numpy, torch tensors -> torch."""
    global _TORCH
    if isinstance(x, np.ndarray | np.generic):
        return NUMPY
    if type(x).__module__.startswith("torch"):
        if _TORCH is None:
            _TORCH = TorchOps()
        return _TORCH
    raise TypeError(f"the LMO's MDP terms take numpy arrays or torch tensors, got {type(x).__name__}")


INF = math.inf
