"""Per-dimension standardisation: with training-split statistics (:class:`Standardizer`) and per speaker
(:class:`SpeakerStandardizer`, opt-in speaker normalisation)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch

__all__ = ["SpeakerStandardizer", "Standardizer", "speaker_rows"]

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
            # One value per dimension (one row, one frame: a speaker with a single segment) has no spread: centred only.
            std = x.std(dim=axes).float() if x.numel() > x.shape[1] else torch.zeros(x.shape[1])
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


def speaker_rows(speakers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{speaker: row indices}`` for one speaker name per row, in order of first appearance."""
    rows: dict[str, list[int]] = {}
    for i, speaker in enumerate(speakers):
        rows.setdefault(speaker, []).append(i)
    return {s: torch.as_tensor(r, dtype=torch.int64) for s, r in rows.items()}


class SpeakerStandardizer:
    """Speaker normalisation: each speaker's inputs ``x -> (x - mean_s) / std_s`` with that speaker's statistics.

    The usual remedy for speaker variability in speaker-independent SER (per-speaker z-scores of the
    features). A speaker of the training split is standardised with the statistics of their training
    rows, wherever their rows are (the ``paper`` protocol's random splits share speakers); a speaker
    absent from training (every validation and test speaker under the ``speaker`` protocol, the files
    of a ``predict`` call) with the statistics of all their rows in the part being transformed. The
    latter is transductive: it reads the unlabelled audio of the test speaker, all of it at once, as
    speaker normalisation always does; results are comparable only with baselines that do the same.
    Statistics are per dimension over that speaker's rows and every axis but the feature axis, as in
    :class:`Standardizer` (a dimension constant for one speaker is only centred).

    Args:
        keys: The inputs to standardise (the extractors with ``normalization = "per_dimension"``).
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.keys = tuple(keys)
        self.by_speaker: dict[str, Standardizer] = {}

    def _fit_rows(self, tensors: Mapping[str, torch.Tensor], rows: torch.Tensor) -> Standardizer:
        return Standardizer(self.keys).fit({k: tensors[k][rows] for k in self.keys if k in tensors})

    def fit(self, tensors: Mapping[str, torch.Tensor], speakers: Sequence[str]) -> SpeakerStandardizer:
        """Statistics of every speaker of the training split's ``tensors`` (``speakers``: one per row)."""
        self._check(tensors, speakers)
        self.by_speaker = {s: self._fit_rows(tensors, rows) for s, rows in speaker_rows(speakers).items()}
        return self

    def transform(self, tensors: Mapping[str, torch.Tensor], speakers: Sequence[str]) -> dict[str, torch.Tensor]:
        """A copy of ``tensors`` with each speaker's rows standardised (training statistics where the
        speaker has them, else the statistics of the speaker's rows here); other inputs as given."""
        self._check(tensors, speakers)
        out = dict(tensors)
        keys = [k for k in self.keys if k in tensors]
        standardized = {k: torch.empty_like(tensors[k]) for k in keys}
        for speaker, rows in speaker_rows(speakers).items():
            stats = self.by_speaker.get(speaker) or self._fit_rows(tensors, rows)
            part = stats.transform({k: tensors[k][rows] for k in keys})
            for k in keys:
                standardized[k][rows] = part[k]
        out.update(standardized)
        return out

    @staticmethod
    def _check(tensors: Mapping[str, torch.Tensor], speakers: Sequence[str]) -> None:
        lengths = {len(v) for v in tensors.values()}
        if lengths and lengths != {len(speakers)}:
            raise ValueError(f"speaker normalisation: {len(speakers)} speaker names for tensors of {sorted(lengths)} rows; "
                             "expected one name per row.")
