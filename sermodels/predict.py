"""Writing utterance-level predictions for new audio (``ser predict``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

__all__ = ["UtterancePredictionWriter", "aggregate_predictions"]


def aggregate_predictions(probs: torch.Tensor, utt_index: torch.Tensor, num_utterances: int) -> torch.Tensor:
    """Mean of segment softmax outputs per utterance: ``(N, C)`` + ``(N,)`` -> ``(num_utterances, C)``."""
    sums = torch.zeros(num_utterances, probs.shape[1], dtype=probs.dtype).index_add_(0, utt_index, probs)
    counts = torch.zeros(num_utterances, dtype=probs.dtype).index_add_(0, utt_index, torch.ones_like(utt_index, dtype=probs.dtype))
    return sums / counts.clamp_min(1)[:, None]


class UtterancePredictionWriter(BasePredictionWriter):
    """Writes ``predictions.csv``: file, predicted label, and each class's probability.

    Args:
        output: CSV path; default ``<log dir>/predictions.csv``.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output = output

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Sequence[Any], batch_indices: Sequence[Any]
    ) -> None:
        flat = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        parts = [{k: v.detach().cpu() for k, v in p.items()} for p in flat]
        if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            # Each process predicted a share of the segments (uneven under predict's sampler):
            # gather all of them, so an utterance split over processes is averaged whole.
            gathered: list[Any] = [None] * trainer.world_size
            dist.all_gather_object(gathered, parts)
            parts = [p for rank_parts in gathered for p in rank_parts]
        if not trainer.is_global_zero or not parts:
            return
        probs = torch.cat([p["probs"] for p in parts])
        utt = torch.cat([p["utt_index"] for p in parts])
        if all("segment_index" in p for p in parts):  # drop segments a sampler scored twice
            seg = torch.cat([p["segment_index"] for p in parts])
            _, first = np.unique(seg.numpy(), return_index=True)
            keep = torch.as_tensor(first)
            probs, utt = probs[keep], utt[keep]
        files = trainer.datamodule.predict_files
        agg = aggregate_predictions(probs, utt, len(files))
        names = pl_module.class_names
        out = Path(self.output) if self.output else Path(trainer.log_dir or ".") / "predictions.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "prediction", *[f"p_{n}" for n in names]])
            for path, row in zip(files, agg):
                writer.writerow([str(path), names[int(row.argmax())], *[f"{float(v):.4f}" for v in row]])
        for path, row in list(zip(files, agg))[:20]:
            rank_zero_info(f"{path}: {names[int(row.argmax())]} ({100 * float(row.max()):.1f}%)")
        rank_zero_info(f"Wrote {len(files)} utterance predictions to {out}")
