"""Writing utterance-level predictions for new audio (``ser predict``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
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
        if not predictions:
            return
        flat = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        probs = torch.cat([p["probs"].cpu() for p in flat])
        utt = torch.cat([p["utt_index"].cpu() for p in flat])
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
