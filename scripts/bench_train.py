"""Training throughput of a model config on a corpus's cached features: pure step vs real epoch.

    python scripts/bench_train.py --epochs 3 -- -c configs/trainer.yaml -c configs/model/strl_ser.yaml \\
        -c configs/data/ravdess.yaml --data.root RAVDESS

Reports, on the trainer's device (CPU, or the GPU when there is one):

- ``step_ms``: forward + backward + optimizer step on one fixed training batch (``--steps`` timed
  after ``--warmup``), i.e. the compute floor;
- ``epoch_s``: the training part of a real ``ser fit`` epoch (batches cut, moved, logged, metrics;
  validation excluded), median over epochs after the first;
- ``ratio`` = ``epoch_s / (step_ms * batches per epoch)``: the data path's and loop's overhead
  (1.0 = none); ``segments_per_s``; peak memory (RSS on CPU, allocated on GPU).

Features must be cached (or are extracted first, untimed). Writes ``--out`` JSON if given. Nothing
else should run on the machine while it measures.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning as L  # noqa: E402
import torch  # noqa: E402

from sermodels.cli import cli_main  # noqa: E402


class EpochTimer(L.Callback):
    """Wall time of each epoch's training batches (validation excluded)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t0 = 0.0

    def _sync(self, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sync(pl_module)
        self._t0 = time.perf_counter()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._sync(pl_module)
        self.times.append(time.perf_counter() - self._t0)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    own, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="timed steps on the fixed batch")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3, help="real epochs in ser fit (the first is not counted)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(own)

    scratch = tempfile.mkdtemp(prefix="bench_train-")  # Lightning's config.yaml etc. go here, not into the cwd
    common = [*passthrough, "--data.progress=false", "--trainer.enable_progress_bar=false", "--trainer.logger=false",
              "--trainer.enable_checkpointing=false", "--trainer.callbacks=[]", f"--trainer.default_root_dir={scratch}"]
    cli = cli_main(common, run=False)
    model, dm = cli.model, cli.datamodule
    dm.prepare_data()
    dm.setup("fit")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train = {k: v.to(device) for k, v in dm.datasets["train"].tensors.items()}
    batch_size = dm.hparams.batch_size
    batch = {k: v[:batch_size] for k, v in train.items()}
    model.to(device).train()
    model.configure_model()  # --model.init_args.compile true: the step is timed compiled, as in fit
    autocast = cli.trainer.precision == "bf16-mixed"  # --trainer.precision bf16-mixed
    optimizer = model.optimizer_factory(model.parameters()) if getattr(model, "optimizer_factory", None) else torch.optim.Adam(model.parameters())

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(model(batch), batch["target"])
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - t0) / args.steps

    timer = EpochTimer()
    fit = cli_main([*common, f"--trainer.max_epochs={args.epochs}", "--trainer.num_sanity_val_steps=0"], run=False)
    fit.trainer.callbacks.append(timer)
    fit.trainer.fit(fit.model, datamodule=fit.datamodule)
    batches = fit.trainer.num_training_batches
    epoch_s = statistics.median(timer.times[1:] or timer.times)
    rows = len(train["target"])
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "config": passthrough,
        "batch_size": batch_size,
        "train_segments": rows,
        "batches_per_epoch": batches,
        "step_ms": 1000 * step_s,
        "step_segments_per_s": batch_size / step_s,
        "epoch_s": epoch_s,
        "epoch_times_s": timer.times,
        "ratio": epoch_s / (step_s * batches),
        "epoch_segments_per_s": rows / epoch_s,
        "peak_memory_mb": _peak_memory_mb(device),
        "precision": str(cli.trainer.precision),
        "compile": bool(getattr(model.hparams, "compile", False)),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
