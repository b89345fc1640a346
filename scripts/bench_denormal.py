"""What subnormal floats cost a CPU training step: a checkpoint's step with and without flushing them to zero.

    python scripts/bench_denormal.py runs/sta_cnn/ravdess/checkpoints/latest.ckpt --threads 1

Weight decay drives some weights and Adam moments of a long fit below float32's smallest normal
(1.18e-38); every CPU operation on such subnormal values takes a slow path. This loads a checkpoint's
weights *and optimiser state* (the state a resumed fit continues from), counts the subnormal values in
each, and times a training step (forward, backward, the checkpoint's own Adam settings) on one fixed
random batch of the checkpoint's input shape, first with IEEE subnormals (``torch.set_flush_denormal(False)``),
then flushed (what ``SERModule`` does by default, ``model.init_args.flush_denormal``). Each mode starts
from a fresh copy of the checkpoint, since a flushed step zeroes the subnormal values for good.
Nothing else should run on the machine while it measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from sermodels.checkpoint import build_model, load_checkpoint  # noqa: E402
from sermodels.module import SERModule, flushes_denormals, net_inputs  # noqa: E402

TINY = torch.finfo(torch.float32).tiny


def subnormal(t: torch.Tensor) -> int:
    return int(((t.abs() < TINY) & (t != 0)).sum()) if t.is_floating_point() else 0


def batch_for(net: nn.Module, size: int, segment_length: float) -> list[torch.Tensor]:
    """A random batch of the net's inputs (STA-CNN: waveforms; STRL-SER: LLDs and functionals)."""
    g = torch.Generator().manual_seed(0)
    shapes = {"wave": (size, int(round(getattr(getattr(net, "frontend", None), "sample_rate", 16000) * segment_length))),
              "lld": (size, getattr(net, "lld_dim", 0), getattr(net, "num_frames", 0)),
              "hsf": (size, getattr(net, "hsf_dim", 0))}
    return [torch.randn(shapes[k], generator=g) * (0.1 if k == "wave" else 1.0) for k in net_inputs(net)]


def fresh(ckpt: dict[str, Any], path: Path) -> tuple[SERModule, torch.optim.Optimizer]:
    module = build_model(ckpt, path)
    module.train()
    group = {k: v for k, v in ckpt["optimizer_states"][0]["param_groups"][0].items() if k in ("lr", "betas", "eps", "weight_decay")}
    optimizer = torch.optim.Adam(module.net.parameters(), **group)
    optimizer.load_state_dict(ckpt["optimizer_states"][0])
    return module, optimizer


def time_steps(module: SERModule, optimizer: torch.optim.Optimizer, inputs: list[torch.Tensor], steps: int) -> list[float]:
    target = torch.randint(0, module.net.num_classes, (inputs[0].shape[0],), generator=torch.Generator().manual_seed(1))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(module.net(*inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", type=Path, help="a Lightning checkpoint written by `ser fit` (latest.ckpt or last.ckpt)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the mode is per thread: workers "
                        "created under one mode keep it, so compare modes at 1 thread)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    before = flushes_denormals()
    if not torch.set_flush_denormal(True):
        print("note: this CPU cannot flush subnormals; both modes below are the same", file=sys.stderr)
    torch.set_flush_denormal(False)  # IEEE while counting: under DAZ a subnormal compares as 0
    try:
        return _measure(args, parser)
    finally:
        torch.set_flush_denormal(before)


def _measure(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    ckpt = load_checkpoint(args.ckpt, weights_only=False)
    if not ckpt.get("optimizer_states"):
        parser.error(f"{args.ckpt}: holds no optimiser state (a weights-only or exported checkpoint); pass the "
                     "latest.ckpt or last.ckpt that `ser fit` writes")
    segment_length = float(ckpt.get("datamodule_hyper_parameters", {}).get("segment_length") or 2.0)
    batch_size = int(ckpt.get("datamodule_hyper_parameters", {}).get("batch_size") or 32)
    weights = [v for v in ckpt["state_dict"].values() if torch.is_tensor(v) and v.is_floating_point()]
    moments = [s[k] for s in ckpt["optimizer_states"][0]["state"].values() for k in ("exp_avg", "exp_avg_sq") if k in s]
    result: dict[str, Any] = {
        "checkpoint": args.ckpt.name, "epoch": ckpt.get("epoch"), "threads": args.threads, "batch_size": batch_size,
        "subnormal_weights": sum(subnormal(v) for v in weights), "weights": sum(v.numel() for v in weights),
        "subnormal_adam_moments": sum(subnormal(v) for v in moments), "adam_moments": sum(v.numel() for v in moments),
    }
    for mode, flush in (("ieee_subnormals", False), ("flushed", True)):
        torch.set_flush_denormal(False)  # IEEE while the model is rebuilt, so its subnormal values survive
        module, optimizer = fresh(ckpt, args.ckpt)
        inputs = batch_for(module.net, batch_size, segment_length)
        torch.set_flush_denormal(flush)
        times = time_steps(module, optimizer, inputs, args.steps + 1)[1:]  # the first step warms up allocators
        result[f"step_ms_{mode}"] = round(1000 * statistics.median(times), 1)
    result["speedup"] = round(result["step_ms_ieee_subnormals"] / result["step_ms_flushed"], 2)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
