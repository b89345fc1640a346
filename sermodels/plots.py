"""Every picture the framework draws: confusion matrices, learning curves, sweep heatmaps, per-class
recall bars and per-file emotion timelines.

Every function draws on matplotlib's Agg canvas (no pyplot, no global backend change), so it works
headless and inside training processes, and every figure carries a title saying what it shows
(callers pass model, corpus, protocol and N). matplotlib is imported when a picture is drawn, not
when this module is imported (the exported bundle's loader imports it without plotting).
"""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sermodels.predict_report import FilePrediction

__all__ = [
    "MIN_PLOT_SEGMENTS", "plot_confusion_matrix", "plot_heatmap", "plot_learning_curves", "plot_recall_bars",
    "plot_timeline", "plot_timelines", "read_learning_curves",
]

#: A file gets a timeline picture when it has at least this many segments (shorter ones: CSV only).
MIN_PLOT_SEGMENTS = 3


def _figure(**kwargs: Any) -> Figure:
    """A matplotlib figure on its own Agg canvas (``kwargs`` go to ``Figure``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
    return out


def plot_confusion_matrix(
    cm: torch.Tensor,
    class_names: Sequence[str],
    path: str | Path,
    title: str = "Confusion matrix",
    normalize: bool = True,
) -> Path:
    """Save a confusion matrix as a PNG, each cell annotated with its count and row percentage.

    Args:
        cm: counts, shape (C, C), rows = true class, columns = predicted class.
        class_names: C axis labels.
        path: output file; parent folders are created.
        title: figure title (say model, corpus, protocol, N and the scores; long lines wrap).
        normalize: colour cells by row-normalised share (recall per true class) instead of counts.

    Returns:
        The path written.

    Raises:
        ValueError: if ``cm`` is not square or ``class_names`` does not have C entries.
    """
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"Expected `cm` to have shape (C, C), got {tuple(cm.shape)}")
    num_classes = cm.shape[0]
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(f"Expected {num_classes} `class_names` for a {num_classes}x{num_classes} matrix, got {names}")
    counts = cm.detach().cpu().double()
    row_sums = counts.sum(dim=1, keepdim=True)
    # A true class with no samples gets 0 % rather than NaN.
    shares = torch.where(row_sums > 0, counts / row_sums.clamp_min(1), torch.zeros_like(counts))
    colour = (shares if normalize else counts).numpy()
    vmax = 1.0 if normalize else max(float(counts.max()), 1.0)

    size = max(4.0, 0.9 * num_classes + 2.0)
    fig = _figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(colour, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(image, ax=ax, label="share of true class" if normalize else "count")
    ax.set(
        xticks=range(num_classes),
        yticks=range(num_classes),
        yticklabels=names,
        xlabel="predicted",
        ylabel="true",
    )
    # Long titles (model, corpus, protocol, N, scores) wrap to the figure's width instead of being cut off.
    width = max(30, int(9 * (size + 1.0)))
    ax.set_title("\n".join(textwrap.fill(line, width) for line in str(title).splitlines()), fontsize=9)
    ax.set_xticklabels(names, rotation=45, ha="right", rotation_mode="anchor")
    fontsize = 9 if num_classes <= 8 else 7
    for i in range(num_classes):
        for j in range(num_classes):
            dark = colour[i, j] > 0.5 * vmax
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}\n{100 * float(shares[i, j]):.1f}%",
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
    return _save(fig, path)


def plot_heatmap(
    rows: Sequence[dict[str, Any]],
    row_key: str,
    col_key: str,
    value_key: str,
    path: str | Path,
    title: str | None = None,
    colorbar_label: str | None = None,
    row_label: str | None = None,
    col_label: str | None = None,
) -> Path:
    """Save a grid of ``value_key`` over two swept parameters as an annotated PNG (values in %).

    Args:
        rows: One dict per run or grid point with ``row_key``, ``col_key`` and ``value_key``
            (``None`` = missing, drawn blank). Several rows for one cell are averaged.
        row_key: Parameter on the y axis.
        col_key: Parameter on the x axis.
        value_key: The metric (fractions in [0, 1] are shown as percent).
        path: Output PNG.
        title: Figure title; say what is shown (model, corpus, protocol, epochs, metric).
            Default: ``"<value_key> (%)"``.
        colorbar_label: Label of the colour bar (default ``"<value_key> (%)"``).
        row_label: y-axis label (default ``row_key``).
        col_label: x-axis label (default ``col_key``).

    Returns:
        The path written.

    Raises:
        ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError("plot_heatmap needs at least one row of results, got none.")
    ys = sorted({r[row_key] for r in rows}, key=_sort_key)
    xs = sorted({r[col_key] for r in rows}, key=_sort_key)
    sums = np.zeros((len(ys), len(xs)))
    counts = np.zeros((len(ys), len(xs)))
    for r in rows:
        if r.get(value_key) is not None:
            i, j = ys.index(r[row_key]), xs.index(r[col_key])
            sums[i, j] += 100 * float(r[value_key])
            counts[i, j] += 1
    grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    fig = _figure(figsize=(2.5 + 0.9 * len(xs), 1.6 + 0.5 * len(ys)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(col_label or col_key)
    ax.set_ylabel(row_label or row_key)
    ax.set_title(title or f"{value_key} (%)", fontsize=9)
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="black" if grid[i, j] > mid else "white", fontsize=8)
    fig.colorbar(im, ax=ax, label=colorbar_label or f"{value_key} (%)")
    return _save(fig, path)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then everything else as text (mixed axes never raise)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def read_learning_curves(metrics_csv: str | Path) -> list[dict[str, float]]:
    """Per-epoch curves from a CSVLogger ``metrics.csv``: train/val loss, val UA and WA.

    Args:
        metrics_csv: The file (``<run>/metrics.csv``).

    Returns:
        One dict per epoch, sorted: ``epoch`` and whichever of ``train_loss``, ``val_loss``,
        ``val_ua``, ``val_wa`` were logged (fractions, not percent).

    Raises:
        FileNotFoundError: No such file (the run did not log with a CSVLogger).
    """
    path = Path(metrics_csv)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file; expected the metrics.csv a CSVLogger writes in a run folder "
            "(e.g. runs/strl_ser/ravdess/metrics.csv)."
        )
    columns = {"train/loss_epoch": "train_loss", "train/loss": "train_loss", "val/loss": "val_loss", "val/ua": "val_ua",
               "val/wa": "val_wa"}
    epochs: dict[int, dict[str, float]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("epoch") in (None, ""):
                continue
            epoch = int(float(row["epoch"]))
            entry = epochs.setdefault(epoch, {"epoch": epoch})
            for column, key in columns.items():
                value = row.get(column)
                # train/loss is also logged per step: only the epoch mean (train/loss_epoch) is a curve point.
                if value not in (None, "") and not (column == "train/loss" and "train/loss_epoch" in row):
                    entry[key] = float(value)
    return [epochs[e] for e in sorted(epochs) if len(epochs[e]) > 1]


def plot_learning_curves(history: Sequence[Mapping[str, float]], path: str | Path, title: str) -> Path:
    """Save train/val loss (left) and validation UA/WA (right, %) per epoch as a PNG.

    Args:
        history: One mapping per epoch with ``epoch`` and any of ``train_loss``, ``val_loss``,
            ``val_ua``, ``val_wa`` (as :func:`read_learning_curves` returns).
        path: Output PNG.
        title: What the run is (model, corpus, protocol, N); shown above both panels.

    Returns:
        The path written.

    Raises:
        ValueError: ``history`` is empty.
    """
    if not history:
        raise ValueError("plot_learning_curves needs at least one epoch of history, got none (was validation run?).")
    from matplotlib.ticker import MaxNLocator

    fig = _figure(figsize=(10, 4), layout="constrained")
    loss_ax, score_ax = fig.subplots(1, 2)

    def series(key: str) -> tuple[list[float], list[float]]:
        points = [(h["epoch"] + 1, h[key]) for h in history if key in h]
        return [p[0] for p in points], [p[1] for p in points]

    for key, label in (("train_loss", "train loss (segments)"), ("val_loss", "validation loss (segments)")):
        xs, ys = series(key)
        if xs:
            loss_ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=label)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for key, label in (("val_ua", "validation UA"), ("val_wa", "validation WA")):
        xs, ys = series(key)
        if xs:
            score_ax.plot(xs, [100 * y for y in ys], marker="." if len(xs) < 30 else None, label=label)
    score_ax.set(xlabel="epoch", ylabel="% (utterances)", title="validation UA / WA")
    for ax in (loss_ax, score_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_recall_bars(
    series: Mapping[str, Mapping[str, tuple[float, float]]],
    class_names: Sequence[str],
    path: str | Path,
    title: str,
) -> Path:
    """Per-class recall as grouped bars, one bar per series (e.g. the model and the baseline).

    Args:
        series: ``{label: {class: (mean, std)}}`` with recalls as fractions; a missing class is
            drawn as no bar. The std is drawn as an error bar (0 draws none).
        class_names: Classes in axis order.
        path: Output PNG.
        title: What is compared (models, corpus, protocol, N).

    Returns:
        The path written.

    Raises:
        ValueError: ``series`` or ``class_names`` is empty.
    """
    if not series or not class_names:
        raise ValueError(f"plot_recall_bars needs at least one series and one class, got {list(series)} / {list(class_names)}.")
    n = len(series)
    width = 0.8 / n
    fig = _figure(figsize=(max(6.0, 1.1 * len(class_names) * max(1, n / 2) + 2), 4.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(class_names))
    for k, (label, recalls) in enumerate(series.items()):
        means = [100 * recalls[c][0] if c in recalls else np.nan for c in class_names]
        stds = [100 * recalls[c][1] if c in recalls else 0.0 for c in class_names]
        bars = ax.bar(x - 0.4 + width * (k + 0.5), means, width, yerr=stds if any(stds) else None, capsize=2, label=label)
        ax.bar_label(bars, labels=[f"{m:.0f}" if np.isfinite(m) else "" for m in means], fontsize=7, padding=1)
    ax.set_xticks(x, [str(c) for c in class_names], rotation=30, ha="right", rotation_mode="anchor")
    ax.set(ylabel="recall (%, utterances)", ylim=(0, 105), title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_timeline(path: Path, result: FilePrediction, class_names: Sequence[str], model: str) -> Path:
    """Emotion probability over time for one file: one step line per class at its segments' spans.

    The title names the model, the file and the number of segments.

    Raises:
        ValueError: ``result`` has no segment times.
    """
    if result.starts is None or result.ends is None:
        raise ValueError(f"{result.path}: no segment times, so no timeline picture can be drawn.")
    n = len(result.segment_probs)
    fig = _figure(figsize=(max(6.0, min(16.0, 0.25 * n + 5)), 3.6))
    ax = fig.add_subplot()
    edges = np.append(result.starts, result.ends[-1])
    for c, name in enumerate(class_names):
        values = np.append(result.segment_probs[:, c], result.segment_probs[-1, c])
        ax.step(edges, values, where="post", label=name, linewidth=1.5)
    ax.set_xlim(float(edges[0]), float(edges[-1]))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (segment softmax)")
    ax.set_title(f"{model}: {result.path.name}, {n} segments (file: {result.label})", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_timelines(folder: Path, results: Sequence[FilePrediction], class_names: Sequence[str], model: str,
                   min_segments: int = MIN_PLOT_SEGMENTS) -> list[Path]:
    """:func:`plot_timeline` for every file with at least ``min_segments`` segments, as ``<folder>/<stem>.png``."""
    written: list[Path] = []
    used: set[str] = set()
    for i, r in enumerate(results):
        if len(r.segment_probs) < min_segments or r.starts is None:
            continue
        name = r.path.stem if r.path.stem not in used else f"{r.path.stem}-{i}"
        used.add(name)
        written.append(plot_timeline(folder / f"{name}.png", r, class_names, model))
    return written
