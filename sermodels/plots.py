"""Pictures people would rather look at than read: sweep heatmaps (confusion matrices live in metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_heatmap"]


def plot_heatmap(rows: Sequence[dict[str, Any]], row_key: str, col_key: str, value_key: str, path: str | Path) -> Path:
    """Save a grid of ``value_key`` over two swept parameters as an annotated PNG (values in %).

    Args:
        rows: One dict per run with ``row_key``, ``col_key`` and ``value_key`` (``None`` = missing).
        row_key: Parameter on the y axis. col_key: parameter on the x axis.
        value_key: The metric (fractions in [0, 1] are shown as percent).
        path: Output PNG.

    Returns:
        The path written.
    """
    if not rows:
        raise ValueError("plot_heatmap needs at least one row of results.")
    ys = sorted({r[row_key] for r in rows})
    xs = sorted({r[col_key] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        if r.get(value_key) is not None:
            grid[ys.index(r[row_key]), xs.index(r[col_key])] = 100 * float(r[value_key])
    fig = Figure(figsize=(1.0 + 0.9 * len(xs), 1.0 + 0.6 * len(ys)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(col_key)
    ax.set_ylabel(row_key)
    ax.set_title(f"{value_key} (%)")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="black" if grid[i, j] > mid else "white", fontsize=8)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
