"""Writing utterance-level predictions for new audio (``ser predict``)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from sermodels.metrics import Aggregation, aggregate_segments

__all__ = ["UtterancePredictionWriter", "prediction_rows"]


def prediction_rows(
    files: Sequence[str | Path],
    class_names: Sequence[str],
    probs: torch.Tensor,
    utt_index: torch.Tensor,
    segment_index: torch.Tensor | None = None,
    aggregation: Aggregation = "mean",
    errors: Mapping[int, str] | None = None,
) -> list[dict[str, str]]:
    """One row per file, in ``files`` order: the utterance aggregation of the test metrics
    (:func:`~sermodels.metrics.aggregate_segments`, same duplicate merging, same ``vote``), so a
    file's ``prediction`` is what ``ser test`` would have scored for it.

    Args:
        files: The predicted files; ``utt_index`` indexes into it.
        class_names: Class names in output order.
        probs: ``(N, C)`` segment softmax outputs; ``utt_index``/``segment_index``: ``(N,)``.
        aggregation: ``mean`` or ``vote`` (the model's ``aggregation``).
        errors: File index -> why it has no prediction (unreadable audio, ...).

    Returns:
        Dicts with ``path``, ``prediction``, ``p_<class>`` (mean segment probability) and ``error``
        (empty for predicted files; the other columns are empty for files with an error).
    """
    errors = dict(errors or {})
    by_file: dict[int, tuple[int, torch.Tensor]] = {}
    if probs.numel():
        utts, mean, preds, _ = aggregate_segments(probs.float(), utt_index, aggregation, segment_index=segment_index)
        by_file = {int(u): (int(p), m) for u, p, m in zip(utts, preds, mean)}
    rows = []
    for i, path in enumerate(files):
        row = {"path": str(path), "prediction": "", **{f"p_{n}": "" for n in class_names}, "error": ""}
        if i in by_file:
            pred, mean_probs = by_file[i]
            row["prediction"] = class_names[pred]
            row.update({f"p_{n}": f"{float(v):.4f}" for n, v in zip(class_names, mean_probs)})
        else:
            row["error"] = errors.get(i, "no segment of this file was predicted")
        rows.append(row)
    return rows


class UtterancePredictionWriter(BasePredictionWriter):
    """Writes ``predictions.csv``: file, predicted label, each class's probability, and an error.

    Every requested file gets a row: a file that could not be read or featurised gets its error
    message in the ``error`` column (and no prediction) while the other files are predicted.

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
            # gather all of them, so an utterance split over processes is aggregated whole.
            gathered: list[Any] = [None] * trainer.world_size
            dist.all_gather_object(gathered, parts)
            parts = [p for rank_parts in gathered for p in rank_parts]
        if not trainer.is_global_zero:
            return
        names = list(pl_module.class_names)
        probs = torch.cat([p["probs"] for p in parts]) if parts else torch.zeros(0, len(names))
        utt = torch.cat([p["utt_index"] for p in parts]) if parts else torch.zeros(0, dtype=torch.long)
        seg = torch.cat([p["segment_index"] for p in parts]) if parts and all("segment_index" in p for p in parts) else None
        dm = trainer.datamodule
        files = dm.predict_files
        errors = getattr(dm, "predict_errors", {})
        aggregation = getattr(getattr(pl_module, "hparams", None), "aggregation", "mean")
        rows = prediction_rows(files, names, probs, utt, seg, aggregation, errors)
        out = Path(self.output) if self.output else Path(trainer.log_dir or ".") / "predictions.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["path", "prediction", "error"])
            writer.writeheader()
            writer.writerows(rows)
        for row in rows[:20]:
            shown = row["error"] or f"{row['prediction']} ({100 * float(row['p_' + row['prediction']]):.1f}%)"
            rank_zero_info(f"{row['path']}: {shown}")
        failed = [r for r in rows if r["error"]]
        if failed:
            rank_zero_warn(
                f"{len(failed)} of {len(rows)} files have no prediction (see the `error` column of {out}), e.g. "
                f"{failed[0]['path']}: {failed[0]['error']}"
            )
        rank_zero_info(f"Wrote {len(rows)} utterance predictions ({aggregation} aggregation) to {out}")
