"""Segments as aligned tensors, and batches cut from them by index on the model's device."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["SegmentDataset", "TensorBatches", "stack_segments"]


def stack_segments(
    features: Sequence[dict[str, np.ndarray]],
    keys: Sequence[str],
    rows: Sequence[int],
    targets: Sequence[int],
    segment_base: int = 0,
) -> dict[str, torch.Tensor]:
    """One tensor per input over the segments of several utterances, plus their bookkeeping.

    Args:
        features: Per-utterance feature dicts (:func:`~datamodules.features.compute_features`).
        keys: The inputs to stack; a per-utterance input (one row) is repeated for every segment.
        rows: Each utterance's row in the corpus (or predict list): ``utt_index``.
        targets: Each utterance's class index (``-1``: unknown, predict).
        segment_base: First ``segment_index`` (unique across the parts of a split).

    Returns:
        ``{key: (segments, ...)}`` and ``target``, ``utt_index``, ``segment_index`` (int64).
    """
    counts = [len(f["bounds"]) for f in features]
    out: dict[str, torch.Tensor] = {}
    for key in keys:
        arrays = [f[key] if len(f[key]) == n else np.repeat(f[key], n, axis=0) for f, n in zip(features, counts)]
        out[key] = torch.from_numpy(np.concatenate(arrays))
    out["target"] = torch.as_tensor(np.repeat(np.asarray(targets, dtype=np.int64), counts))
    out["utt_index"] = torch.as_tensor(np.repeat(np.asarray(rows, dtype=np.int64), counts))
    out["segment_index"] = torch.arange(segment_base, segment_base + sum(counts), dtype=torch.int64)
    return out


class SegmentDataset(Dataset):
    """Segments held as aligned tensors; item ``i`` is a dict of their ``i``-th rows.

    Keys: the configured inputs (``lld`` ``(76, T)``, ``hsf`` ``(1582,)``, ``wave`` ``(samples,)``),
    ``target``, ``utt_index`` (the utterance's row in the corpus / predict list) and
    ``segment_index`` (unique per segment; lets metrics drop DistributedSampler's padding duplicates).
    """

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        lengths = {k: len(v) for k, v in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"SegmentDataset tensors must share their first dimension, got {lengths}.")
        self.tensors = tensors
        self.length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}

    def num_utterances(self) -> int:
        return int(torch.unique(self.tensors["utt_index"]).numel())


class TensorBatches:
    """Batches cut by index from tensors that already live on the model's device.

    Replaces ``DataLoader`` over :class:`SegmentDataset`: one ``index_select`` per key per batch,
    no per-item ``__getitem__``, no collate, no worker processes. Under DDP (``world_size > 1``)
    each process takes every ``world_size``-th index of a permutation padded to a multiple of
    ``world_size`` by repeating its start, exactly as ``DistributedSampler`` does (metrics drop
    the repeats by ``segment_index``).

    Shuffling draws a permutation from a generator seeded with ``(seed, epoch)``, where ``epoch``
    comes from ``epoch_fn`` (the trainer's current epoch): the order of epoch ``e`` is the same in
    an uninterrupted run and in a run resumed before epoch ``e``.

    Args:
        tensors: Aligned tensors (same first dimension), e.g. ``SegmentDataset.tensors``.
        batch_size: Rows per batch.
        shuffle: Permute the rows every epoch.
        seed: Base seed of the shuffling generator.
        epoch_fn: Returns the current epoch (``None``: count ``__iter__`` calls).
        rank: This process's rank; ``world_size``: number of processes.
    """

    def __init__(
        self,
        tensors: dict[str, torch.Tensor],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        epoch_fn: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"Expected batch_size >= 1, got {batch_size}.")
        lengths = {k: len(v) for k, v in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"TensorBatches tensors must share their first dimension, got {lengths}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"Expected 0 <= rank < world_size, got rank {rank}, world_size {world_size}.")
        self.tensors = tensors
        self.num_rows = next(iter(lengths.values()))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.rank, self.world_size = rank, world_size
        self._calls = 0

    @property
    def rows_per_process(self) -> int:
        return math.ceil(self.num_rows / self.world_size)

    def __len__(self) -> int:
        return math.ceil(self.rows_per_process / self.batch_size)

    def _order(self) -> torch.Tensor:
        epoch = self.epoch_fn() if self.epoch_fn is not None else self._calls
        self._calls += 1
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(epoch))
            order = torch.randperm(self.num_rows, generator=generator)
        else:
            order = torch.arange(self.num_rows)
        if self.world_size > 1:
            total = self.rows_per_process * self.world_size
            if total > self.num_rows:  # pad as DistributedSampler does: repeat from the start
                order = torch.cat([order, order[: total - self.num_rows]])
            order = order[self.rank : total : self.world_size]
        return order

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = self._order()
        device = next(iter(self.tensors.values())).device
        order = order.to(device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield {k: v.index_select(0, index) for k, v in self.tensors.items()}

    def to(self, device: torch.device | str) -> TensorBatches:
        """Move the tensors to ``device`` (once; batches are then cut there)."""
        self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
        return self
