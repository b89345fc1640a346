"""Writing utterance-level predictions for new audio (``ser predict``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from sermodels.metrics import Aggregation, aggregate_segments
from sermodels.plots import plot_timelines
from sermodels.predict_report import (
    FilePrediction,
    claim_output_dir,
    format_predictions_table,
    segment_times,
    write_predictions_csv,
    write_timeline_csv,
)

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
    """Writes ``predictions.csv`` (file, predicted label, each class's probability, error) and prints a table.

    Every requested file gets a row: a file that could not be read or featurised gets its error
    message in the ``error`` column (and no prediction) while the other files are predicted. Labels
    and probabilities come from :func:`~sermodels.metrics.aggregate_segments`, the aggregation the
    test metrics use (same ``vote``, same duplicate merging).

    With ``timeline``, also ``timeline.csv`` (every segment's probabilities with its start and end
    time) and ``timeline/<file>.png`` (emotion probability over time) for files of at least
    :data:`~sermodels.plots.MIN_PLOT_SEGMENTS` segments.

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
            # gather all of them, so an utterance split over processes is aggregated whole.
            gathered: list[Any] = [None] * trainer.world_size
            dist.all_gather_object(gathered, parts)
            parts = [p for rank_parts in gathered for p in rank_parts]
        if not trainer.is_global_zero:
            return
        names = [str(n) for n in cast(Sequence[str], pl_module.class_names)]
        probs = torch.cat([p["probs"] for p in parts]).float() if parts else torch.zeros(0, len(names))
        utt = torch.cat([p["utt_index"] for p in parts]) if parts else torch.zeros(0, dtype=torch.long)
        seg = torch.cat([p["segment_index"] for p in parts]) if parts and all("segment_index" in p for p in parts) else None
        if seg is not None and len(seg):  # drop segments a sampler scored twice (for the timeline)
            _, first = np.unique(seg.numpy(), return_index=True)
            keep = torch.as_tensor(np.sort(first))
            seg_probs, seg_utt = probs[keep], utt[keep]
        else:
            seg_probs, seg_utt = probs, utt
        dm = getattr(trainer, "datamodule", None)  # set by Lightning's data connector (undeclared on Trainer)
        if dm is None:
            raise RuntimeError("UtterancePredictionWriter names files from the data module's predict_files: predict "
                               "with a SERDataModule (ser predict does).")
        files = dm.predict_files
        errors = dict(getattr(dm, "predict_errors", {}) or {})
        aggregation = cast(Aggregation, getattr(getattr(pl_module, "hparams", None), "aggregation", "mean"))
        by_file: dict[int, tuple[int, torch.Tensor]] = {}
        if probs.numel():
            utts, mean, preds, _ = aggregate_segments(probs, utt, aggregation, segment_index=seg)
            by_file = {int(u): (int(p), m) for u, p, m in zip(utts, preds, mean)}
        results = _file_predictions(files, by_file, seg_probs, seg_utt, dm, names, errors)
        out = self._csv_path(trainer)
        write_predictions_csv(out, results, names)
        net = getattr(pl_module, "net", None)
        model = type(net).__name__ if net is not None else type(pl_module).__name__
        ckpt = getattr(trainer, "ckpt_path", None)
        model += f" ({Path(ckpt).name})" if ckpt else ""
        rank_zero_info("\n" + format_predictions_table(results, names, f"Predictions of {model}: {len(files)} file(s)"))
        failed = [r for r in results if r.error]
        if failed:
            rank_zero_warn(
                f"{len(failed)} of {len(results)} files have no prediction (see the `error` column of {out}), e.g. "
                f"{failed[0].path}: {failed[0].error}"
            )
        rank_zero_info(f"Wrote {len(results)} utterance predictions ({aggregation} aggregation) to {out}")
        if self.timeline:
            usable = [r for r in results if not r.error]
            if any(r.starts is None for r in usable):
                rank_zero_info("No segment times for these predictions (the data module keeps none): timeline skipped.")
                return
            timeline = write_timeline_csv(out.parent / "timeline.csv", usable, names)
            pngs = plot_timelines(out.parent / "timeline", usable, names, model)
            rank_zero_info(f"Per-segment timeline: {timeline}; {len(pngs)} picture(s) in {out.parent / 'timeline'}")


def _file_predictions(
    files: Sequence[Path],
    by_file: Mapping[int, tuple[int, torch.Tensor]],
    probs: torch.Tensor,
    utt: torch.Tensor,
    datamodule: Any,
    names: Sequence[str],
    errors: Mapping[int, str],
) -> list[FilePrediction]:
    """Per-file results; segment rows are in time order (predict segments are numbered file by file)."""
    segments = getattr(datamodule, "predict_segments", None)
    rate = getattr(datamodule, "sample_rate", None)
    results = []
    for i, path in enumerate(files):
        if i not in by_file:
            why = errors.get(i, "no segment of this file was predicted")
            results.append(FilePrediction(Path(path), np.full(len(names), np.nan), "", np.zeros((0, len(names))), error=why))
            continue
        pred, mean = by_file[i]
        seg_probs = probs[utt == i].double().numpy()
        starts = ends = None
        info = segments[i] if segments and i < len(segments) else None
        if info is not None and rate and len(info[0]) == len(seg_probs):
            starts, ends = segment_times(info[0], info[1], rate)
        results.append(FilePrediction(Path(path), mean.double().numpy(), names[pred], seg_probs, starts, ends))
    return results
