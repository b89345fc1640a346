"""Speaker-independent cross-validation: fit + test every fold, then mean +- std over folds.

    python scripts/crossval.py --folds 10 --out runs/cv/sta_cnn_emodb -- \
        --config configs/sta_cnn/base.yaml --config configs/sta_cnn/emodb.yaml --data.root /data/EMODB

Everything after ``--`` goes to every ``ser fit`` / ``ser test`` call; ``--data.protocol speaker``
and ``--data.fold k`` are added. Each fold is tested with the checkpoint its fit's monitored
ModelCheckpoint kept (STA-CNN: best on validation; validation speakers are disjoint from train and
test speakers), else with its last epoch (STRL-SER, as the paper reports). Writes
``fold<k>.json`` per fold, ``folds.csv`` and ``summary.md``; finished folds are skipped on a re-run.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sermodels.cli import cli_main  # noqa: E402

KEYS = ("wa", "ua", "macro_f1", "weighted_f1", "macro_precision", "weighted_precision")


def _tested_checkpoint(trainer) -> str:  # noqa: ANN001
    """The monitored ModelCheckpoint's best model of this fit, else the last epoch's."""
    for cb in trainer.checkpoint_callbacks:
        if cb.monitor is not None and cb.best_model_path:
            return cb.best_model_path
    for cb in trainer.checkpoint_callbacks:
        if cb.last_model_path:
            return cb.last_model_path
    raise RuntimeError("The fit saved no checkpoint: keep a ModelCheckpoint callback in the config.")


def run_fold(fold: int, out: Path, passthrough: list[str]) -> dict[str, float]:
    """Fit and test one fold; return its utterance-level test metrics (cached in ``fold<k>.json``)."""
    result = out / f"fold{fold}.json"
    if result.exists():
        return json.loads(result.read_text())
    common = [
        *passthrough,
        "--data.protocol=speaker",
        f"--data.fold={fold}",
        f"--trainer.logger.init_args.save_dir={out.parent}",
        f"--trainer.logger.init_args.name={out.name}",
        "--trainer.logger.init_args.version=cv",  # the CLI appends -speaker-fold<k>
    ]
    fit = cli_main(["fit", *common])
    ckpt = _tested_checkpoint(fit.trainer)
    test = cli_main(["test", *common, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    metrics["checkpoint"] = ckpt
    result.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def summarise(rows: list[dict[str, float]]) -> str:
    """Markdown table of mean and standard deviation over folds (percent)."""
    lines = ["| metric | mean | std | min | max |", "|---|---|---|---|---|"]
    for k in KEYS:
        vals = [100 * r[k] for r in rows]
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        lines.append(f"| {k} | {statistics.mean(vals):.2f} | {std:.2f} | {min(vals):.2f} | {max(vals):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    own, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, required=True, help="number of folds (e.g. 10 EMO-DB, 6 RAVDESS, 5 IEMOCAP)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(own)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fold in range(args.folds):
        metrics = run_fold(fold, out, passthrough)
        rows.append({"fold": fold, **{k: metrics[k] for k in KEYS}, "num_utterances": metrics["num_utterances"]})
        print(f"fold {fold}: WA {100 * metrics['wa']:.2f} UA {100 * metrics['ua']:.2f}")
    with (out / "folds.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = summarise(rows)
    (out / "summary.md").write_text(f"Speaker-independent, {args.folds} folds\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
