"""Run a hyperparameter grid locally (no W&B account needed) and draw the result as a heatmap.

    python scripts/sweep.py --config configs/strl_ser/base.yaml --config configs/strl_ser/ravdess.yaml \
        --data.root /data/RAVDESS --grid configs/sweeps/strl_ser_heads_segment.yaml --out runs/sweep

Reads the ``parameters`` of a W&B sweep file (grid values), runs ``ser fit`` for every
combination (extra ``--key value`` arguments go to every run), takes ``--metric`` (default the
sweep's metric) of the last epoch from each run's metrics.csv, writes ``results.csv`` and, for a
two-parameter grid, ``heatmap.png``. Finished runs are skipped on a re-run (resumable). W&B
constants (``value:``, e.g. the placeholder ``data.root``) are not passed: give them as extra
arguments, which override nothing else.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sermodels.cli import cli_main  # noqa: E402
from sermodels.plots import plot_heatmap  # noqa: E402


def _short(key: str) -> str:
    return key.split(".")[-1]


def _arg(value: object) -> str:
    """A value as the CLI reads it (strings raw, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def last_metric(metrics_csv: Path, metric: str) -> float | None:
    """The metric's value at the last epoch where it was logged."""
    value = None
    with metrics_csv.open() as fh:
        for row in csv.DictReader(fh):
            if row.get(metric):
                value = float(row[metric])
    return value


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", required=True, help="W&B sweep YAML (its parameters' values form the grid)")
    ap.add_argument("--out", default="runs/sweep")
    ap.add_argument("--metric", default=None)
    args, passthrough = ap.parse_known_args(argv)
    sweep = yaml.safe_load(Path(args.grid).read_text())
    metric = args.metric or sweep.get("metric", {}).get("name", "val/ua")
    keys = list(sweep["parameters"])
    # W&B constants (``value:``) are a grid of one; pass them on the command line to override.
    grids = [spec["values"] if "values" in spec else [spec["value"]] for spec in sweep["parameters"].values()]
    swept = [k for k, g in zip(keys, grids) if len(g) > 1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for values in itertools.product(*grids):
        name = "-".join(f"{_short(k)}{v}" for k, v in zip(keys, values) if k in swept)
        done = out / "done" / f"{name}.json"
        if not done.exists():
            cli = cli_main(
                [
                    "fit",
                    *passthrough,
                    *[f"--{k}={_arg(v)}" for k, v in zip(keys, values) if k in swept],
                    f"--trainer.logger.init_args.save_dir={out}",
                    "--trainer.logger.init_args.name=runs",
                    f"--trainer.logger.init_args.version={name}",
                ]
            )
            run_dir = Path(cli.trainer.log_dir)
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps({"log_dir": str(run_dir)}) + "\n")
        run_dir = Path(json.loads(done.read_text())["log_dir"])
        rows.append({**{_short(k): v for k, v in zip(keys, values) if k in swept}, metric: last_metric(run_dir / "metrics.csv", metric)})
        print(f"{name}: {metric} = {rows[-1][metric]}")
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if len(swept) == 2:
        png = plot_heatmap(rows, _short(swept[0]), _short(swept[1]), metric, out / "heatmap.png")
        print(f"heatmap: {png}")
    print(f"results: {out / 'results.csv'}")


if __name__ == "__main__":
    main()
