"""Prediction results on disk and on the terminal: utterance CSV, per-segment timeline, plots, table.

Shared by ``ser predict`` (:class:`~sermodels.predict.UtterancePredictionWriter`) and the exported
bundle's loader (:mod:`sermodels.bundle`), so both write the same files. Imports neither Lightning
nor the nets. The timeline pictures are drawn by :func:`sermodels.plots.plot_timelines`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FilePrediction",
    "aggregate_segments",
    "claim_output_dir",
    "default_output_dir",
    "format_predictions_table",
    "write_predictions_csv",
    "write_timeline_csv",
]

#: Rows of the terminal table; the CSV always has every file.
TABLE_ROWS = 30


@dataclass
class FilePrediction:
    """One file's prediction.

    Attributes:
        path: The audio file.
        probs: ``(C,)`` utterance probabilities (mean of the segments' softmax outputs).
        label: Predicted class (argmax of ``probs``, or the segment majority vote).
        segment_probs: ``(S, C)`` per-segment softmax outputs, in time order.
        starts, ends: ``(S,)`` segment start / end in seconds (an end is clipped to the file's length);
            ``None`` where the segment times are unknown.
        error: Why the file has no prediction (unreadable audio, ...); empty for a predicted file.
    """

    path: Path
    probs: np.ndarray
    label: str
    segment_probs: np.ndarray
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    error: str = ""


def aggregate_segments(segment_probs: np.ndarray, aggregation: str = "mean") -> tuple[np.ndarray, int]:
    """One utterance's probabilities and class from its segments: :func:`sermodels.metrics.aggregate_segments`.

    Args:
        segment_probs: ``(S, C)`` softmax outputs of the utterance's segments.
        aggregation: ``mean`` (argmax of the mean, STRL-SER Eq. 23) or ``vote`` (class predicted by
            most segments; ties to the higher mean probability, then the lower class index).

    Returns:
        ``(mean probabilities (C,), predicted class index)``.

    Raises:
        ValueError: Empty input or an unknown aggregation.
    """
    p = np.asarray(segment_probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"Expected segment probabilities of shape (segments >= 1, classes), got {p.shape}.")
    if aggregation not in ("mean", "vote"):
        raise ValueError(f"Expected aggregation 'mean' or 'vote', got {aggregation!r}.")
    import torch  # the bundle path computes features with torch anyway

    from sermodels.aggregation import aggregate_segments as aggregate  # the one definition (test metrics too)

    _, mean, preds, _ = aggregate(torch.as_tensor(p), torch.zeros(len(p), dtype=torch.long), aggregation)  # type: ignore[arg-type]
    return mean[0].numpy(), int(preds[0])


def segment_times(bounds: np.ndarray, num_samples: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment ``(S, 2)`` sample bounds -> start and end seconds (padding past the file's end cut off)."""
    b = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    return b[:, 0] / sample_rate, np.minimum(b[:, 1], num_samples) / sample_rate


def default_output_dir(ckpt_path: str | Path) -> Path:
    """Where ``ser predict`` writes by default: named after the checkpoint, beside its run.

    ``runs/strl_ser/ravdess/checkpoints/last.ckpt`` -> ``runs/strl_ser/ravdess-predict/last``;
    ``models/emo.ckpt`` -> ``models/emo-predict``.
    """
    p = Path(ckpt_path)
    if p.parent.name == "checkpoints":
        run = p.parent.parent
        return run.parent / f"{run.name}-predict" / p.stem
    return p.parent / f"{p.stem}-predict"


def claim_output_dir(output: str | Path | None, ckpt_path: str | Path | None, overwrite: bool = False) -> Path:
    """The folder this prediction call writes to, never one holding an earlier call's ``predictions.csv``.

    Args:
        output: ``--output`` as given (``None``: :func:`default_output_dir`).
        ckpt_path: The checkpoint (names the default folder).
        overwrite: Replace an existing ``predictions.csv`` instead.

    Returns:
        ``output`` if given; else the default folder, or ``<default>-2``, ``-3`` ... when an earlier
        call already wrote there.

    Raises:
        FileExistsError: ``output`` was given and holds a ``predictions.csv`` (and not ``overwrite``).
        ValueError: Neither ``output`` nor ``ckpt_path`` was given.
    """
    if output is not None:
        out = Path(output)
        if (out / "predictions.csv").exists() and not overwrite:
            raise FileExistsError(
                f"--output {out} already holds predictions.csv from an earlier call; pass another --output, "
                "or --overwrite true to replace it."
            )
        return out
    if ckpt_path is None:
        raise ValueError("ser predict: pass --ckpt_path (the trained model) or --output (where results go).")
    base = default_output_dir(ckpt_path)
    out, n = base, 1
    while (out / "predictions.csv").exists() and not overwrite:
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def write_predictions_csv(path: Path, results: Sequence[FilePrediction], class_names: Sequence[str]) -> Path:
    """``path, prediction, p_<class>..., error``: one row per file (a failed file: its error, nothing else)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "prediction", *[f"p_{n}" for n in class_names], "error"])
        for r in results:
            probs = [""] * len(class_names) if r.error else [f"{float(v):.4f}" for v in r.probs]
            writer.writerow([str(r.path), r.label, *probs, r.error])
    return path


def write_timeline_csv(path: Path, results: Sequence[FilePrediction], class_names: Sequence[str]) -> Path:
    """``path, segment, start_s, end_s, prediction, p_<class>...``: one row per segment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "segment", "start_s", "end_s", "prediction", *[f"p_{n}" for n in class_names]])
        for r in results:
            if r.starts is None or r.ends is None:
                continue  # no segment times (e.g. a failed file): no timeline rows
            for i, (p, start, end) in enumerate(zip(r.segment_probs, r.starts, r.ends)):
                writer.writerow([str(r.path), i, f"{start:.3f}", f"{end:.3f}", class_names[int(np.argmax(p))],
                                 *[f"{float(v):.4f}" for v in p]])
    return path


def format_predictions_table(results: Sequence[FilePrediction], class_names: Sequence[str], title: str,
                             max_rows: int = TABLE_ROWS) -> str:
    """A fixed-width table: file, prediction, confidence, segments, every class's probability (%)."""
    width = min(40, max([len("file"), *(len(r.path.name) for r in results[:max_rows])]))
    cols = [f"{n[:8]:>8}" for n in class_names]
    head = f"{'file':<{width}}  {'prediction':<12} {'conf':>6} {'segs':>5}  " + " ".join(cols)
    lines = [title, head, "-" * len(head)]
    for r in results[:max_rows]:
        name = r.path.name if len(r.path.name) <= width else "..." + r.path.name[-(width - 3):]
        if r.error:
            lines.append(f"{name:<{width}}  ERROR: {r.error[:100]}")
            continue
        conf = 100 * float(r.probs[class_names.index(r.label)]) if r.label in class_names else float("nan")
        probs = " ".join(f"{100 * float(v):8.1f}" for v in r.probs)
        lines.append(f"{name:<{width}}  {r.label:<12} {conf:5.1f}% {len(r.segment_probs):>5}  {probs}")
    if len(results) > max_rows:
        lines.append(f"... {len(results) - max_rows} more files in predictions.csv")
    return "\n".join(lines)
