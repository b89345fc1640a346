"""Diagnostic: how much does a *segment-level* random split inflate utterance-level scores?

    python scripts/segment_leak_check.py --epochs 40 --out runs/leak -- \
        --config configs/strl_ser/base.yaml --config configs/strl_ser/ravdess.yaml --data.root /data/RAVDESS

STRL-SER's paper splits "randomly 80/20" without saying whether an utterance's segments stay
together. The framework's ``paper`` protocol keeps them together (leak-free). This script trains
the same config once on a deliberately leaky split: the segments of the ``paper`` split's train and
validation utterances are pooled and re-split at random, 80/20, so most validation utterances have
sibling segments (same speaker, same sentence, same recording) in training. Comparing its
validation curve with a normal run's at the same epoch measures how much of a published number
such a split could explain. Never use this split to report results: it exists to be compared.

Writes ``<out>/leaky/metrics.csv`` and prints the last epoch's utterance-level ``val/wa`` and ``val/ua``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamodules.datamodule import SegmentDataset  # noqa: E402
from sermodels.cli import cli_main  # noqa: E402


def leaky_resplit(train: SegmentDataset, val: SegmentDataset, val_fraction: float, seed: int) -> tuple[SegmentDataset, SegmentDataset]:
    """Pool both parts' segments and split them at random, ignoring which utterance each is from."""
    pooled = {k: torch.cat([train.tensors[k], val.tensors[k]]) for k in train.tensors}
    order = torch.randperm(len(pooled["target"]), generator=torch.Generator().manual_seed(seed))
    n_val = round(val_fraction * len(order))
    parts = order[n_val:], order[:n_val]
    return tuple(SegmentDataset({k: v[idx] for k, v in pooled.items()}) for idx in parts)  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    own, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", default="runs/leak")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    args = ap.parse_args(own)
    out = Path(args.out)
    cli = cli_main(
        [
            *passthrough,
            f"--trainer.max_epochs={args.epochs}",
            f"--trainer.logger.init_args.save_dir={out.parent}",
            f"--trainer.logger.init_args.name={out.name}",
            "--trainer.logger.init_args.version=leaky",
        ],
        run=False,
    )
    dm, hp = cli.datamodule, cli.datamodule.hparams
    setup = dm.setup

    def leaky_setup(stage: str | None = None) -> None:
        setup(stage)
        if not getattr(dm, "_leaky", False):
            dm.datasets["train"], dm.datasets["val"] = leaky_resplit(dm.datasets["train"], dm.datasets["val"], args.val_fraction, hp.seed)
            dm.datasets["test"] = dm.datasets["val"]
            dm._leaky = True
            # The checkpoints saw segments of every pooled utterance: record them all as training
            # utterances, so `ser test` refuses to score this model on any of them.
            dm.split = dataclasses.replace(dm.split, train=tuple(sorted(set(dm.split.train) | set(dm.split.val))))
            shared = set(dm.datasets["train"].tensors["utt_index"].tolist()) & set(dm.datasets["val"].tensors["utt_index"].tolist())
            print(f"LEAKY split: {len(shared)} of {dm.datasets['val'].num_utterances()} validation utterances have segments in training")

    dm.setup = leaky_setup  # type: ignore[method-assign]
    cli.trainer.fit(cli.model, datamodule=dm)
    rows = [r for r in csv.DictReader((Path(cli.trainer.log_dir) / "metrics.csv").open()) if r.get("val/wa")]
    last = rows[-1]
    print(f"leaky segment split, epoch {last['epoch']}: val/wa {100 * float(last['val/wa']):.2f}, val/ua {100 * float(last['val/ua']):.2f}")


if __name__ == "__main__":
    main()
