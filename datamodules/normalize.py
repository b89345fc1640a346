"""Per-dimension standardisation with training-split statistics: a small fit / transform / state object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

__all__ = ["Standardizer"]

#: A dimension whose training spread is below this is left unscaled (a constant functional would divide by 0).
MIN_STD = 1e-8


class Standardizer:
    """``x -> (x - mean) / std`` per feature dimension, for the inputs ``keys``.

    A batch tensor is ``(rows, dims, ...)``: the statistics of dimension ``d`` are taken over every
    other axis (LLDs ``(N, 76, T)``: over segments and frames; functionals ``(N, 1582)``: over
    segments), in float64. Its state (:meth:`state_dict`) is ``{"<key>_mean", "<key>_std"}``, the
    ``norm`` entry checkpoints have always held, so older checkpoints load as they are.

    Args:
        keys: The inputs to standardise (the extractors with ``normalization = "per_dimension"``).
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.keys = tuple(keys)
        self.stats: dict[str, torch.Tensor] = {}

    @property
    def fitted(self) -> bool:
        return bool(self.stats)

    def fit(self, tensors: Mapping[str, torch.Tensor]) -> Standardizer:
        """Statistics of the training split's ``tensors`` (keys it lacks are skipped)."""
        self.stats = {}
        for key in self.keys:
            if key not in tensors:
                continue
            x = tensors[key].double()
            axes = tuple(a for a in range(x.ndim) if a != 1)
            std = x.std(dim=axes).float()
            self.stats[f"{key}_mean"] = x.mean(dim=axes).float()
            self.stats[f"{key}_std"] = torch.where(std > MIN_STD, std, torch.ones_like(std))
        return self

    def transform(self, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A copy of ``tensors`` with every fitted input standardised (the rest as given)."""
        out = dict(tensors)
        for key, x in tensors.items():
            if f"{key}_mean" not in self.stats:
                continue
            shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast over every axis but the feature axis
            mean = self.stats[f"{key}_mean"].to(x.device, x.dtype).reshape(shape)
            std = self.stats[f"{key}_std"].to(x.device, x.dtype).reshape(shape)
            out[key] = (x - mean) / std
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.stats.items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore statistics (e.g. a checkpoint's ``norm``), whichever inputs they cover."""
        self.stats = {k: torch.as_tensor(v).clone() for k, v in state.items()}
