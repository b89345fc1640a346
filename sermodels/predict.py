"""Writing utterance-level predictions for new audio (``ser predict``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from sermodels.predict_report import (
    FilePrediction,
    claim_output_dir,
    format_predictions_table,
    plot_timelines,
    segment_times,
    write_predictions_csv,
    write_timeline_csv,
)

__all__ = ["UtterancePredictionWriter", "aggregate_predictions"]


def aggregate_predictions(probs: torch.Tensor, utt_index: torch.Tensor, num_utterances: int) -> torch.Tensor:
    """Mean of segment softmax outputs per utterance: ``(N, C)`` + ``(N,)`` -> ``(num_utterances, C)``."""
    sums = torch.zeros(num_utterances, probs.shape[1], dtype=probs.dtype).index_add_(0, utt_index, probs)
    counts = torch.zeros(num_utterances, dtype=probs.dtype).index_add_(0, utt_index, torch.ones_like(utt_index, dtype=probs.dtype))
    return sums / counts.clamp_min(1)[:, None]


class UtterancePredictionWriter(BasePredictionWriter):
    """Writes ``predictions.csv`` (file, predicted label, each class's probability) and prints a table.

    With ``timeline``, also ``timeline.csv`` (every segment's probabilities with its start and end
    time) and ``timeline/<file>.png`` (emotion probability over time) for files of at least
    :data:`~sermodels.predict_report.MIN_PLOT_SEGMENTS` segments.

    Args:
        output: CSV path (legacy; ``output_dir`` is preferred).
        output_dir: Results folder; default the log dir.
        timeline: Also write the per-segment timeline CSV and pictures.
        overwrite: Replace an existing ``predictions.csv`` (else refused before predicting).
    """

    def __init__(
        self, output: str | None = None, output_dir: str | None = None, timeline: bool = False, overwrite: bool = False
    ) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.output_dir = output_dir
        self.timeline = timeline
        self.overwrite = overwrite

    def _csv_path(self, trainer: L.Trainer) -> Path:
        if self.output:
            return Path(self.output)
        return Path(self.output_dir or trainer.log_dir or ".") / "predictions.csv"

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Refuse to replace an earlier call's results before spending time on predicting."""
        if trainer.is_global_zero and not self.overwrite:
            claim_output_dir(self._csv_path(trainer).parent, None)

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
        out = self._csv_path(trainer)
        results = _file_predictions(files, agg, probs, utt, trainer.datamodule, names)
        write_predictions_csv(out, results, names)
        net = getattr(pl_module, "net", None)
        model = type(net).__name__ if net is not None else type(pl_module).__name__
        ckpt = getattr(trainer, "ckpt_path", None)
        model += f" ({Path(ckpt).name})" if ckpt else ""
        rank_zero_info("\n" + format_predictions_table(results, names, f"Predictions of {model}: {len(files)} file(s)"))
        rank_zero_info(f"Wrote {len(files)} utterance predictions to {out}")
        if self.timeline:
            if any(r.starts is None for r in results):
                rank_zero_info("No segment times for these predictions (the data module keeps none): timeline skipped.")
                return
            timeline = write_timeline_csv(out.parent / "timeline.csv", results, names)
            pngs = plot_timelines(out.parent / "timeline", results, names, model)
            rank_zero_info(f"Per-segment timeline: {timeline}; {len(pngs)} picture(s) in {out.parent / 'timeline'}")


def _file_predictions(
    files: Sequence[Path], agg: torch.Tensor, probs: torch.Tensor, utt: torch.Tensor, datamodule: Any, names: Sequence[str]
) -> list[FilePrediction]:
    """Per-file results; segment rows are in time order (predict segments are numbered file by file)."""
    segments = getattr(datamodule, "predict_segments", None)
    rate = getattr(datamodule, "sample_rate", None)
    results = []
    for i, (path, row) in enumerate(zip(files, agg)):
        seg_probs = probs[utt == i].double().numpy()
        starts = ends = None
        if segments and rate and len(segments[i][0]) == len(seg_probs):
            starts, ends = segment_times(segments[i][0], segments[i][1], rate)
        results.append(FilePrediction(Path(path), row.double().numpy(), names[int(row.argmax())], seg_probs, starts, ends))
    return results
