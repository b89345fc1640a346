"""``ser-report``: render finished experiments and sweeps as the papers' tables and labelled figures.

    ser-report sweep runs/sweeps/strl_ser_ravdess_heads --sweep configs/sweeps/strl_ser_ravdess_heads.yaml
    ser-report sweep wandb_export.csv --sweep configs/sweeps/strl_ser_ravdess_segment_kernels.yaml
    ser-report recall runs/exp/strl_ravdess runs/exp/baseline_ravdess --protocol speaker
    ser-report curves runs/strl_ser/ravdess/metrics.csv
    ser-report errors runs/exp/strl_emodb runs/exp/baseline_emodb --protocol paper

- ``sweep``: a finished sweep, from a local ``ser-experiment`` folder (``aggregate.json``) or from a
  CSV exported from the W&B sweep's runs table (one row per run; config columns such as
  ``model.init_args.net.init_args.num_heads``, summary columns such as ``val/ua``). Runs of one
  setting (seeds, folds) are averaged. Writes ``sweep_table.md`` in the papers' layout (the first swept
  parameter down the rows; with two or more, the others across the columns, e.g. segment length x
  kernels) and ``sweep_<metric>.png``, a heatmap titled with model, corpus, protocol, epochs and
  metric. The setting chosen on the validation metric is named, never one chosen on the test set,
  and none where the validation set is the reported set (STRL-SER's 80/20 protocol).
- ``recall``: per-class recall of a model's experiment beside another's (the linear baseline,
  ``configs/model/baseline.yaml``, run by ``ser-experiment`` like any model) as grouped bars.
- ``curves``: the learning curves of any run from its ``metrics.csv`` (``ser fit`` draws them itself).
- ``errors``: a model's experiment and another's (the baseline) on the *same* splits, utterance by utterance:
  per trial, the test utterances each gets wrong, those both get wrong, those only one gets wrong, and an
  exact McNemar test on the discordant pairs; the utterances both keep getting wrong. Writes
  ``errors_vs_<other folder>_<protocol>.md`` and ``.json`` (the paired test a mean ± std hides: is a gain a few
  utterances or many, and are the remaining errors the baseline's too?).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sermodels.plots import plot_heatmap, plot_learning_curves, plot_recall_bars, read_learning_curves

__all__ = ["Cell", "load_sweep", "sweep_axes", "sweep_table", "render_sweep", "recall_figure", "paired_errors",
           "render_errors", "main"]

#: Keys that repeat a setting rather than define one: their runs are averaged.
REPEAT_KEYS = ("data.fold", "data.seed", "seed_everything")
#: Metrics shown in the tables, in order (validation = the selection split; test = the reported set).
TABLE_METRICS = ("val/ua", "test/wa", "test/ua")


class ReportError(ValueError):
    """A report input is missing or not what was expected; the message names it and the fix."""


@dataclass
class Cell:
    """One setting of a sweep: swept values and each metric's runs (fractions)."""

    params: dict[str, Any]
    values: dict[str, list[float]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str) -> float | None:
        runs = [v for v in self.values.get(metric, []) if v is not None and not math.isnan(v)]
        return statistics.mean(runs) if runs else None

    def std(self, metric: str) -> float:
        runs = [v for v in self.values.get(metric, []) if v is not None and not math.isnan(v)]
        return statistics.stdev(runs) if len(runs) > 1 else 0.0


# ---------------------------------------------------------------------------------------- loading
def _short(key: str) -> str:
    return key.split(".")[-1]


def _hashable(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def load_sweep(source: str | Path) -> list[Cell]:
    """Cells (one per setting and protocol) from a ``ser-experiment`` folder or a W&B CSV export.

    Raises:
        ReportError: ``source`` is neither a folder with ``aggregate.json`` nor a ``.csv`` file.
    """
    path = Path(source)
    if path.is_dir():
        agg = path / "aggregate.json"
        if not agg.is_file():
            raise ReportError(f"{path}: no aggregate.json; expected a finished `ser-experiment --out {path}` folder "
                              "(re-run the same ser-experiment command to finish it).")
        return _cells_from_aggregate(json.loads(agg.read_text()))
    if path.suffix.lower() == ".csv" and path.is_file():
        return _cells_from_csv(path)
    raise ReportError(f"{path}: expected a ser-experiment folder (with aggregate.json) or a CSV exported from the "
                      "W&B sweep's runs table (Runs -> Export as CSV), got neither.")


def _cells_from_aggregate(agg: dict[str, Any]) -> list[Cell]:
    cells = []
    for g in agg.get("groups", []):
        params = {k: _hashable(v) for k, v in (g.get("overrides") or {}).items()}
        params["data.protocol"] = g["protocol"]
        cell = Cell(params, context={
            "model": g.get("model") or "?", "corpus": g.get("corpus") or "?", "protocol": g["protocol"],
            "epochs": g.get("epochs") or [], "test_is_val": bool(g.get("test_is_val")), "n": g.get("n", 0),
            "leaky": bool(g.get("leaky")),  # the leaky segment-level split: shown, never chosen
        })
        # Aggregates hold mean and n per group: the trials' values are represented by their mean
        # (n copies), so the cell mean is exact; the table shows the group's own std.
        for key, stat in (g.get("metrics") or {}).items():
            cell.values[f"test/{key}"] = [stat["mean"]] * max(1, int(stat.get("n", 1)))
            cell.context[f"std:test/{key}"] = stat.get("std", 0.0)
        if g.get("val_ua") and not math.isnan(g["val_ua"]["mean"]):
            cell.values["val/ua"] = [g["val_ua"]["mean"]] * max(1, int(g["val_ua"].get("n", 1)))
            cell.context["std:val/ua"] = g["val_ua"].get("std", 0.0)
        cells.append(cell)
    return cells


def _parse(text: str) -> Any:
    if text in ("", None):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _cells_from_csv(path: Path) -> list[Cell]:
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("State") or "finished") == "finished"]
    if not rows:
        raise ReportError(f"{path}: no finished runs (rows with State 'finished'); export the sweep's runs table from W&B.")
    metric_cols = [c for c in rows[0] if c.startswith(("val/", "test/"))]
    param_cols = [c for c in rows[0] if "." in c and not c.startswith(("val/", "test/", "train/"))]
    if not metric_cols:
        raise ReportError(f"{path}: no val/* or test/* columns; expected a W&B runs export with the summary metrics.")
    cells: dict[tuple, Cell] = {}
    for row in rows:
        params = {c: _hashable(_parse(row[c])) for c in param_cols if row.get(c) not in (None, "")}
        key = tuple(sorted((k, v) for k, v in params.items() if k not in REPEAT_KEYS))
        net = str(params.get("model.init_args.net.class_path") or row.get("model.init_args.net.class_path") or "?")
        cell = cells.setdefault(key, Cell({k: v for k, v in key}, context={
            "model": net.rsplit(".", 1)[-1], "corpus": params.get("data.corpus", "?"),
            "protocol": params.get("data.protocol", "paper"), "epochs": [], "n": 0,
            # A 2-part paper split (ratios [0.8, 0.2]) tests on its validation set.
            "test_is_val": params.get("data.protocol", "paper") == "paper" and len(_parse(str(params.get("data.ratios", "[0.8, 0.2]"))) or []) == 2,
            "leaky": params.get("data.split_unit") == "segment",
        }))
        cell.context["n"] += 1
        epochs = params.get("trainer.max_epochs")
        if epochs is not None and epochs not in cell.context["epochs"]:
            cell.context["epochs"].append(epochs)
        for m in metric_cols:
            value = _parse(row.get(m, ""))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.values.setdefault(m, []).append(float(value))
    return list(cells.values())


# ---------------------------------------------------------------------------------------- axes
def sweep_axes(cells: Sequence[Cell], sweep_file: str | Path | None = None) -> list[str]:
    """The swept parameters: the sweep file's ``values`` lists in order, else those that vary.

    Repeats (fold, seed) and the protocol are never axes: runs over them are averaged / split.
    """
    if sweep_file is not None:
        spec = yaml.safe_load(Path(sweep_file).read_text()) or {}
        axes = [k for k, v in (spec.get("parameters") or {}).items() if isinstance(v, dict) and "values" in v
                and k not in (*REPEAT_KEYS, "data.protocol")]
    else:
        keys = sorted({k for c in cells for k in c.params})
        axes = [k for k in keys if k not in (*REPEAT_KEYS, "data.protocol") and len({c.params.get(k) for c in cells}) > 1]
    if not axes:
        raise ReportError("No swept parameter found: give the sweep file (--sweep configs/sweeps/<file>.yaml) or "
                          "--rows KEY [--cols KEY[,KEY]].")
    return axes


def _label(cell: Cell, keys: Sequence[str]) -> Any:
    values = [cell.params.get(k) for k in keys]
    shorts = [_short(k) for k in keys]
    if shorts == ["freq_kernel", "time_kernel"]:
        return f"{values[0]}x1+1x{values[1]}"  # the papers' kernel notation
    return values[0] if len(values) == 1 else "/".join(str(v) for v in values)


def _axis_name(keys: Sequence[str]) -> str:
    shorts = [_short(k) for k in keys]
    return "kernels (freq x 1 + 1 x time)" if shorts == ["freq_kernel", "time_kernel"] else " / ".join(shorts)


# ---------------------------------------------------------------------------------------- table
def _pct(cell: Cell, metric: str) -> str:
    mean = cell.mean(metric)
    if mean is None:
        return "—"
    std = cell.context.get(f"std:{metric}", cell.std(metric))
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std else "")


def describe(cells: Sequence[Cell]) -> str:
    """``"STRLSER on ravdess, paper protocol, 150 epochs, 1 run per setting"``."""
    ctx = cells[0].context
    epochs = sorted({e for c in cells for e in c.context.get("epochs", [])})
    ns = sorted({c.context.get("n", 0) for c in cells})
    return (f"{ctx.get('model', '?')} on {ctx.get('corpus', '?')}, {ctx.get('protocol', '?')} protocol, "
            f"{'/'.join(str(e) for e in epochs) or '?'} epochs, {'/'.join(str(n) for n in ns)} run(s) per setting")


def _chosen(cells: Sequence[Cell]) -> tuple[Cell | None, str]:
    if any(c.context.get("test_is_val") for c in cells):
        return None, ("No setting is chosen: the validation set is the reported set here (STRL-SER's 80/20 protocol); "
                      "use a sweep file that selects on a held-out validation split.")
    scored = [(ua, c) for c in cells if (ua := c.mean("val/ua")) is not None and not c.context.get("leaky")]
    if not scored:
        return None, ("No setting is chosen: every setting ran on the LEAKY segment-level split (data.split_unit=segment)."
                      if any(c.context.get("leaky") for c in cells) else "No setting is chosen: no validation UA was recorded.")
    best = max(scored, key=lambda pair: pair[0])[1]
    return best, "on validation UA (never on test)"


def sweep_table(cells: Sequence[Cell], rows: Sequence[str], cols: Sequence[str]) -> str:
    """The papers' layout as Markdown: parameter values down the rows; metrics (one swept parameter)
    or the other parameters' values (two or more) across the columns, one grid per metric."""
    best, why = _chosen(cells)
    lines = [f"# Sweep: {describe(cells)}", "",
             "Utterance-level metrics (%), mean ± sample std over the runs of a setting. `val/ua` is the selection "
             "metric (validation split); `test/*` is the reported, held-out set.", ""]
    metrics = [m for m in TABLE_METRICS if any(c.mean(m) is not None for c in cells)]
    ys = sorted({_label(c, rows) for c in cells}, key=_order)
    if not cols:
        lines += [f"| {_axis_name(rows)} | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for y in ys:
            cell = next(c for c in cells if _label(c, rows) == y)
            mark = "**" if cell is best else ""
            leak = " (LEAKY split)" if cell.context.get("leaky") else ""
            lines.append(f"| {mark}{y}{mark}{leak} | " + " | ".join(_pct(cell, m) for m in metrics) + " |")
    else:
        xs = sorted({_label(c, cols) for c in cells}, key=_order)
        for m in metrics:
            lines += ["", f"**{m}** ({_axis_name(rows)} down, {_axis_name(cols)} across)", "",
                      f"| {_short(rows[0])} \\ {_axis_name(cols)} | " + " | ".join(str(x) for x in xs) + " |",
                      "|---" * (len(xs) + 1) + "|"]
            for y in ys:
                row = []
                for x in xs:
                    found = next((c for c in cells if _label(c, rows) == y and _label(c, cols) == x), None)
                    text = _pct(found, m) if found else "—"
                    row.append(f"**{text}**" if found is not None and found is best else text)
                lines.append(f"| {y} | " + " | ".join(row) + " |")
    lines.append("")
    if best is not None:
        lines.append(f"Chosen {why}: **{', '.join(f'{_short(k)} {best.params.get(k)}' for k in (*rows, *cols))}** "
                     f"(val UA {_pct(best, 'val/ua')}, test UA {_pct(best, 'test/ua')}).")
    else:
        lines.append(why)
    return "\n".join(lines) + "\n"


def _order(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def render_sweep(source: str | Path, out: str | Path | None = None, sweep_file: str | Path | None = None,
                 rows: Sequence[str] | None = None, cols: Sequence[str] | None = None,
                 metric: str | None = None) -> list[Path]:
    """Write ``sweep_table.md`` and the heatmap PNG(s) of a finished sweep; one set per protocol.

    Args:
        source: ``ser-experiment`` folder or W&B CSV export.
        out: Output folder (default: the experiment folder, or the CSV's folder).
        sweep_file: The sweep YAML (gives the axes in order).
        rows: Parameter(s) down the rows (default: the first swept one).
        cols: Parameter(s) across the columns (default: the other swept ones).
        metric: Heatmap metric (default ``val/ua`` where recorded, else ``test/ua``).

    Returns:
        The files written.

    Raises:
        ReportError: Unreadable source, no swept parameter, or a metric no run recorded.
    """
    cells = load_sweep(source)
    src = Path(source)
    out_dir = Path(out) if out else (src if src.is_dir() else src.parent)
    if rows:
        row_keys, col_keys = list(rows), list(cols or [])
    else:
        axes = sweep_axes(cells, sweep_file)
        row_keys, col_keys = axes[:1], list(cols) if cols else axes[1:]
    missing = [k for k in (*row_keys, *col_keys) if not any(k in c.params for c in cells)]
    if missing:
        known = sorted({k for c in cells for k in c.params})
        raise ReportError(f"Swept parameter(s) {missing} are in no run of {source}; the runs have {known}.")
    written = []
    protocols = sorted({str(c.context.get("protocol")) for c in cells})
    for protocol in protocols:
        group = [c for c in cells if str(c.context.get("protocol")) == protocol]
        suffix = f"_{protocol}" if len(protocols) > 1 else ""
        table = sweep_table(group, row_keys, col_keys)
        md = out_dir / f"sweep_table{suffix}.md"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(table)
        print(table)
        written.append(md)
        chosen_metric = metric or ("val/ua" if any(c.mean("val/ua") is not None for c in group) else "test/ua")
        if not any(c.mean(chosen_metric) is not None for c in group):
            recorded = sorted({m for c in group for m in c.values})
            raise ReportError(f"--metric {chosen_metric}: no run recorded it; recorded: {recorded}.")
        if col_keys:
            points = [{"row": _label(c, row_keys), "col": _label(c, col_keys), "v": c.mean(chosen_metric)} for c in group]
            col_label = _axis_name(col_keys)
        else:  # one swept parameter: its values x the table's metrics
            points = [{"row": _label(c, row_keys), "col": m, "v": c.mean(m)} for c in group for m in TABLE_METRICS
                      if c.mean(m) is not None]
            col_label = "metric"
        what = "validation split, the selection metric" if chosen_metric.startswith("val/") else "held-out test set"
        title = f"{describe(group)}\n{chosen_metric if col_keys else 'UA / WA'} (%, {what if col_keys else 'val = selection, test = reported'})"
        png = plot_heatmap(points, "row", "col", "v", out_dir / f"sweep_{chosen_metric.replace('/', '_')}{suffix}.png",
                           title=title, colorbar_label=f"{chosen_metric if col_keys else 'metric'} (%, mean over runs)",
                           row_label=_axis_name(row_keys), col_label=col_label)
        written.append(png)
    return written


# ---------------------------------------------------------------------------------------- recall
def _group(folder: str | Path, protocol: str | None, point: str | None, point_flag: str = "--point") -> dict[str, Any]:
    path = Path(folder) / "aggregate.json"
    if not path.is_file():
        raise ReportError(f"{path}: no such file; expected a finished `ser-experiment --out {folder}` folder.")
    groups = json.loads(path.read_text()).get("groups", [])
    chosen = [g for g in groups if (protocol is None or g["protocol"] == protocol) and (point is None or g["point"] == point)]
    if len(chosen) != 1:
        have = [f"{g['point']}/{g['protocol']}" for g in groups]
        raise ReportError(f"{folder}: {len(chosen)} groups match protocol={protocol!r} point={point!r}; it has {have}. "
                          f"Pick one with --protocol and {point_flag}.")
    return chosen[0]


def _pair_groups(model_dir: str | Path, other_dir: str | Path, protocol: str | None, point: str | None,
                 other_point: str | None, other_flag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model experiment's group and the other's under the same protocol, refused unless both are of one
    corpus and class set (``other_flag``: the CLI flag that picks the other's grid point, named in errors)."""
    model = _group(model_dir, protocol, point)
    other = _group(other_dir, model["protocol"], other_point, other_flag)
    if model["class_names"] != other["class_names"] or model.get("corpus") != other.get("corpus"):
        raise ReportError(f"{model_dir} ({model.get('corpus')}, {model['class_names']}) and {other_dir} "
                          f"({other.get('corpus')}, {other['class_names']}) are not the same corpus and classes: "
                          "compare experiments run on the same corpus.")
    return model, other


def recall_figure(model_dir: str | Path, baseline_dir: str | Path, out: str | Path | None = None,
                  protocol: str | None = None, point: str | None = None, baseline_point: str | None = None) -> Path:
    """Grouped per-class recall bars: a model's experiment beside the baseline's (mean ± std over trials).

    Raises:
        ReportError: Missing aggregates, ambiguous groups, or experiments on other corpora/classes/protocols.
    """
    model, base = _pair_groups(model_dir, baseline_dir, protocol, point, baseline_point, "--baseline-point")

    def series(g: dict[str, Any], folder: str | Path) -> tuple[str, dict[str, tuple[float, float]]]:
        name = g.get("model") or Path(folder).name
        label = f"{name} ({g['point']})" if g["point"] != "default" else name
        return label, {c: (s["mean"], s["std"]) for c, s in g["recall"].items()}

    data = dict([series(model, model_dir), series(base, baseline_dir)])
    n_utt = sum(sum(r) for r in model["confusion_matrix"])
    title = (f"Per-class recall: {' vs '.join(data)}\n{model.get('corpus') or '?'}, {model['protocol']} protocol; "
             f"mean ± std over N = {model['n']} / {base['n']} trials ({n_utt} test utterances pooled)")
    path = Path(out) if out else Path(model_dir) / f"recall_vs_baseline_{model['protocol']}.png"
    return plot_recall_bars(data, model["class_names"], path, title)


# ---------------------------------------------------------------------------------------- errors
def _trial_predictions(folder: Path, group: dict[str, Any], trial: str) -> dict[str, tuple[str, str]]:
    """utt_id -> (label, prediction) of one trial's reported test (its ``test_predictions.csv``)."""
    from sermodels.experiment import trial_predictions_csv

    trial_dir = folder / group["point"] / trial
    result_path = trial_dir / "result.json"
    if not result_path.is_file():
        raise ReportError(f"{result_path}: no such file; expected the finished trial {trial!r} of {folder}: rerun "
                          "its ser-experiment command (it resumes and finishes the missing trials).")
    path = trial_predictions_csv(json.loads(result_path.read_text()), trial_dir)
    if path is None:
        raise ReportError(f"{trial_dir}: no test_predictions.csv for trial {trial!r}; rerun it "
                          f"(delete {trial_dir} and run the same ser-experiment command again).")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"utt_id", "label", "prediction"} - set(reader.fieldnames or ())
        if missing:
            raise ReportError(f"{path}: no column(s) {sorted(missing)}; expected the test_predictions.csv that `ser test` "
                              "writes (utt_id, label, prediction, ...): rerun the trial's test.")
        rows = [(row["utt_id"], row["label"], row["prediction"]) for row in reader]
    ids = [u for u, _, _ in rows]
    if "" in ids or len(set(ids)) != len(ids):
        raise ReportError(f"{path}: {'empty' if '' in ids else 'repeated'} utt_id values; the utterances cannot be "
                          "paired. Rerun the trial's test from the corpus folder (not a feature pack without its "
                          "utterance table), so each row names its utterance.")
    return {u: (lab, pred) for u, lab, pred in rows}


def _mcnemar_p(only_model: int, only_other: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs as a binomial test at 1/2 (1.0 with none)."""
    from scipy.stats import binomtest

    n = only_model + only_other
    return 1.0 if n == 0 else float(binomtest(min(only_model, only_other), n, 0.5).pvalue)


def paired_errors(model_dir: str | Path, other_dir: str | Path, protocol: str | None = None, point: str | None = None,
                  other_point: str | None = None) -> dict[str, Any]:
    """Two experiments' test utterances paired on the same splits (trials matched by name).

    Returns a dict with ``trials`` (per trial: ``n`` utterances, ``model_wrong``, ``other_wrong``, ``both_wrong``,
    ``only_model_wrong``, ``only_other_wrong``, ``mcnemar_p``), ``pooled`` (their sums; the McNemar p there pools
    trials, whose test sets may share utterances under random splits: a summary, not an independent test) and
    ``both_wrong`` (per utterance both got wrong: label, each prediction, in how many trials, out of how many it was
    tested in), ``disjoint`` (every utterance tested in one trial only, as across speaker folds: then the pooled
    McNemar p is a test over all of them), ``confusions`` ("label -> prediction" counts, most frequent first, of the
    errors only the model makes, only the other makes, and both make: the model's prediction), plus the two
    experiments' names, corpus and protocol.

    Raises:
        ReportError: A missing folder, trial or prediction file; no trial in common; a trial whose test utterances
            differ between the two (not the same split); another corpus or class set.
    """
    model_dir, other_dir = Path(model_dir), Path(other_dir)
    # folder names below via resolve(): `.` names its folder
    model, other = _pair_groups(model_dir, other_dir, protocol, point, other_point, "--other-point")
    common = [t for t in model["trials"] if t in set(other["trials"])]
    if not common:
        raise ReportError(f"{model_dir} (trials {model['trials']}) and {other_dir} (trials {other['trials']}) share no "
                          "trial: run both with the same --seeds / --folds.")
    trials: list[dict[str, Any]] = []
    shared: dict[str, dict[str, Any]] = {}
    tested: dict[str, int] = {}
    confusions: dict[str, Counter[str]] = {k: Counter() for k in ("only_model", "only_other", "both")}
    for name in common:
        m, o = _trial_predictions(model_dir, model, name), _trial_predictions(other_dir, other, name)
        if m.keys() != o.keys():
            only = sorted(m.keys() ^ o.keys())
            raise ReportError(f"trial {name}: {model_dir} tested {len(m)} utterances and {other_dir} {len(o)}, not the "
                              f"same ones ({len(only)} in one only, e.g. {', '.join(only[:3])}): the two were not run on "
                              "the same split; run both with the same corpus, --seeds/--folds, data.ratios and data.seed.")
        if any(m[u][0] != o[u][0] for u in m):
            u = next(u for u in m if m[u][0] != o[u][0])
            raise ReportError(f"trial {name}: utterance {u} is labelled {m[u][0]!r} in {model_dir} and {o[u][0]!r} in "
                              f"{other_dir}: the two used other label sets; run both with the same data config.")
        mw = {u for u, (lab, pred) in m.items() if lab != pred}
        ow = {u for u, (lab, pred) in o.items() if lab != pred}
        for u in m:
            tested[u] = tested.get(u, 0) + 1
        for u in mw:
            confusions["only_model" if u not in ow else "both"][f"{m[u][0]} -> {m[u][1]}"] += 1
        for u in ow - mw:
            confusions["only_other"][f"{o[u][0]} -> {o[u][1]}"] += 1
        for u in mw & ow:
            e = shared.setdefault(u, {"utt_id": u, "label": m[u][0], "model": [], "other": [], "trials": 0})
            e["model"].append(m[u][1])
            e["other"].append(o[u][1])
            e["trials"] += 1
        trials.append({"trial": name, "n": len(m), "model_wrong": len(mw), "other_wrong": len(ow),
                       "both_wrong": len(mw & ow), "only_model_wrong": len(mw - ow), "only_other_wrong": len(ow - mw),
                       "mcnemar_p": _mcnemar_p(len(mw - ow), len(ow - mw))})
    keys = ("n", "model_wrong", "other_wrong", "both_wrong", "only_model_wrong", "only_other_wrong")
    pooled: dict[str, Any] = {k: sum(t[k] for t in trials) for k in keys}
    pooled["mcnemar_p"] = _mcnemar_p(pooled["only_model_wrong"], pooled["only_other_wrong"])
    both = sorted(({**e, "tested": tested[e["utt_id"]]} for e in shared.values()),
                  key=lambda e: (-e["trials"], e["label"], e["utt_id"]))
    return {"model": model.get("model") or model_dir.name, "other": other.get("model") or other_dir.name,
            "model_dir": model_dir.resolve().name, "other_dir": other_dir.resolve().name, "corpus": model.get("corpus"),
            "protocol": model["protocol"], "trials": trials, "pooled": pooled, "both_wrong": both,
            "unmatched": sorted(set(model["trials"]) ^ set(other["trials"])),
            "disjoint": all(n == 1 for n in tested.values()),
            "confusions": {k: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))  # ties by name: stable output
                           for k, c in confusions.items()}}


def render_errors(pair: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """``paired_errors`` as Markdown (``<out>.md``) and JSON (``<out>.json``; a given ``.md``/``.json`` suffix is
    dropped first); returns both paths."""
    out = Path(out)
    a, b = pair["model_dir"], pair["other_dir"]
    lines = [f"# Paired errors: {a} (A) against {b} (B)", "",
             f"{pair['corpus'] or '?'}, {pair['protocol']} protocol, {len(pair['trials'])} trials matched by name, "
             "each trial's reported test set (`ser-report errors`). *only A wrong*: A errs where B is right, and the "
             "reverse (the discordant pairs); *p*: exact two-sided McNemar test on them. Made by "
             f"`ser-report errors <folder>/{a} <folder>/{b} --protocol {pair['protocol']}`.", "",
             "| trial | n | A wrong | B wrong | both wrong | only A wrong | only B wrong | p |",
             "|---|---|---|---|---|---|---|---|"]
    for t in [*pair["trials"], {"trial": "**pooled**", **pair["pooled"]}]:
        lines.append(f"| {t['trial']} | {t['n']} | {t['model_wrong']} | {t['other_wrong']} | {t['both_wrong']} | "
                     f"{t['only_model_wrong']} | {t['only_other_wrong']} | {t['mcnemar_p']:.3g} |")
    p = pair["pooled"]
    share = f"{100 * p['both_wrong'] / p['other_wrong']:.0f} %" if p["other_wrong"] else "n/a"
    lines += ["", f"Of {b}'s {p['other_wrong']} errors, {p['both_wrong']} ({share}) are {a}'s too; {a} fixes "
              f"{p['only_other_wrong']} and makes {p['only_model_wrong']} new ones (net {p['only_other_wrong'] - p['only_model_wrong']:+d} "
              f"of {p['n']} test readings). " + (
                  "Every utterance was tested once (disjoint test sets), so the pooled p tests them all."
                  if pair["disjoint"] else "The pooled p sums trials whose test sets share utterances (random splits): "
                  "read it as a summary, the per-trial p as the tests."), ""]
    names = {"only_model": "only A wrong", "only_other": "only B wrong", "both": "both wrong (A's prediction)"}
    lines += ["| errors | most frequent (label -> predicted) |", "|---|---|"]
    lines += [f"| {names[k]} | {', '.join(f'{c} {n}' for c, n in list(pair['confusions'][k].items())[:5]) or '-'} |"
              for k in names]
    lines.append("")
    if pair["unmatched"]:
        lines += [f"Trials in only one of the two (left out): {', '.join(pair['unmatched'])}.", ""]
    if pair["both_wrong"]:
        lines += ["## Utterances both get wrong", "", "| utterance | label | A predicted | B predicted | trials |",
                  "|---|---|---|---|---|"]
        for e in pair["both_wrong"]:
            lines.append(f"| {e['utt_id']} | {e['label']} | {', '.join(e['model'])} | {', '.join(e['other'])} | "
                         f"{e['trials']} of {e['tested']} |")
    base = out.with_suffix("") if out.suffix in (".md", ".json") else out  # keep dots inside a name (run.v2)
    md, js = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text("\n".join(lines) + "\n")
    js.write_text(json.dumps(pair, indent=1) + "\n")
    return md, js


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="ser-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="a finished sweep as the papers' table and a labelled heatmap")
    sw.add_argument("source", help="ser-experiment folder (aggregate.json) or a W&B runs-table CSV export")
    sw.add_argument("--sweep", default=None, help="the sweep YAML (its `values` parameters are the axes, in order)")
    sw.add_argument("--rows", default=None, help="parameter down the rows (full key, e.g. data.segment_length)")
    sw.add_argument("--cols", default=None, help="parameter(s) across the columns, comma-separated")
    sw.add_argument("--metric", default=None, help="heatmap metric: val/ua (default where recorded), test/ua, test/wa")
    sw.add_argument("--out", default=None, help="output folder (default: the experiment folder / the CSV's folder)")
    rc = sub.add_parser("recall", help="per-class recall of an experiment beside the baseline's, as grouped bars")
    rc.add_argument("model", help="the model's ser-experiment folder")
    rc.add_argument("baseline", help="the baseline's ser-experiment folder (configs/model/baseline.yaml)")
    rc.add_argument("--protocol", default=None, help="paper or speaker (needed when the folder has both)")
    rc.add_argument("--point", default=None, help="the model experiment's grid point (needed with several)")
    rc.add_argument("--baseline-point", default=None, help="the baseline experiment's grid point")
    rc.add_argument("--out", default=None, help="output PNG (default <model>/recall_vs_baseline_<protocol>.png)")
    cv = sub.add_parser("curves", help="learning curves of a run from its metrics.csv")
    cv.add_argument("metrics_csv")
    cv.add_argument("--title", default=None, help="figure title (default: the run folder)")
    cv.add_argument("--out", default=None, help="output PNG (default: learning_curves.png beside metrics.csv)")
    er = sub.add_parser("errors", help="two experiments on the same splits, utterance by utterance (McNemar)")
    er.add_argument("model", help="the model's ser-experiment folder")
    er.add_argument("other", help="the other ser-experiment folder (e.g. the baseline's), run on the same splits")
    er.add_argument("--protocol", default=None, help="paper or speaker (needed when the folder has both)")
    er.add_argument("--point", default=None, help="the model experiment's grid point (needed with several)")
    er.add_argument("--other-point", default=None, help="the other experiment's grid point")
    er.add_argument("--out", default=None,
                    help="output path without suffix (default <model>/errors_vs_<other folder>_<protocol>)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "sweep":
            files = render_sweep(args.source, args.out, args.sweep, [args.rows] if args.rows else None,
                                 args.cols.split(",") if args.cols else None, args.metric)
        elif args.command == "recall":
            files = [recall_figure(args.model, args.baseline, args.out, args.protocol, args.point, args.baseline_point)]
        elif args.command == "errors":
            pair = paired_errors(args.model, args.other, args.protocol, args.point, args.other_point)
            out = args.out or Path(args.model) / f"errors_vs_{pair['other_dir']}_{pair['protocol']}"
            files = list(render_errors(pair, out))
            p = pair["pooled"]
            print(f"A = {pair['model_dir']}, B = {pair['other_dir']}: {p['n']} test readings; A wrong {p['model_wrong']}, "
                  f"B wrong {p['other_wrong']}, both {p['both_wrong']}, only A {p['only_model_wrong']}, only B "
                  f"{p['only_other_wrong']} (McNemar p {p['mcnemar_p']:.3g})")
        else:
            path = Path(args.metrics_csv)
            files = [plot_learning_curves(read_learning_curves(path), args.out or path.parent / "learning_curves.png",
                                          args.title or f"learning curves: {path.parent}")]
    except (ReportError, FileNotFoundError) as err:
        ap.exit(2, f"ser-report: error: {err}\n")
    for f in files:
        print(f"wrote {f}")


if __name__ == "__main__":
    main()
