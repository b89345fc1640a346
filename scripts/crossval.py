"""Speaker-independent cross-validation: fit + test every fold, then mean +- std over folds.

    python scripts/crossval.py --folds 10 --out runs/cv/sta_cnn_emodb -- \
        --config configs/sta_cnn/base.yaml --config configs/sta_cnn/emodb.yaml --data.root /data/EMODB

Everything after ``--`` goes to every ``ser fit`` / ``ser test`` call; ``--data.protocol speaker``
and ``--data.fold k`` are added. Each fold is tested with its best-on-validation checkpoint when
the config keeps one (``best-*.ckpt``; validation speakers are disjoint from train and test
speakers), else with ``last.ckpt``. Writes ``folds.csv`` and ``summary.md``; folds already
finished are skipped on a re-run.
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


def run_fold(fold: int, out: Path, passthrough: list[str]) -> dict[str, float]:
    """Fit and test one fold; return its utterance-level test metrics."""
    name = f"fold{fold}"
    result = out / f"{name}-test" / "test_metrics.json"
    if not result.exists():
        common = [
            *passthrough,
            "--data.protocol=speaker",
            f"--data.fold={fold}",
            f"--trainer.logger.init_args.save_dir={out.parent}",
            f"--trainer.logger.init_args.name={out.name}",
            f"--trainer.logger.init_args.version={name}",
        ]
        cli_main(["fit", *common])
        ckpts = out / name / "checkpoints"
        best = sorted(ckpts.glob("best-*.ckpt"))
        cli_main(["test", *common, f"--ckpt_path={best[0] if best else ckpts / 'last.ckpt'}"])
    return json.loads(result.read_text())


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
