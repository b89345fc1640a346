"""Opt-in weight averaging: an exponential moving average (EMA) of the weights, its half-life in epochs.

Not in either paper: an improvement beyond them, reported as its own row (docs/reproduction.md). It is
Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` (validation, checkpoints and the model
left after ``fit`` all hold the averaged weights; a resumed fit restores both copies) with the decay set
from a half-life in *epochs*, so one setting means the same averaging window on a 535-utterance corpus
and on a 1440-utterance one, whatever the batch size. Switched on with
``--model.init_args.ema_half_life 1.0`` (the module adds this callback) or added to the trainer directly
(``--trainer.callbacks+=sermodels.averaging.EpochEMA``).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import AveragedModel

__all__ = ["EpochEMA"]


class EpochEMA(WeightAveraging):
    """EMA of the weights (and float buffers, e.g. batch-norm statistics), updated after every optimiser step.

    The per-step decay is ``0.5 ** (1 / (half_life * steps_per_epoch))``: a weight set ``half_life`` epochs
    old counts half as much as the newest. The first update copies the weights (no bias towards the
    initialisation). Integer and boolean buffers (batch-norm step counters, a fitted flag) are copied, not
    averaged.

    Args:
        half_life: Half-life of the average in epochs, > 0 (e.g. 1.0: mostly the last 2-3 epochs).

    Raises:
        ValueError: ``half_life`` is not a number > 0.
    """

    def __init__(self, half_life: float = 1.0) -> None:
        if isinstance(half_life, bool) or not (isinstance(half_life, (int, float)) and half_life > 0):
            raise ValueError(f"Expected the EMA half_life > 0 epochs (e.g. 1.0), got {half_life!r}")
        super().__init__(avg_fn=self._average)
        self.half_life = float(half_life)
        self.decay: float | None = None  # set when the number of steps per epoch is known (on_train_start)

    def _average(self, averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        if not averaged.is_floating_point() or self.decay is None:
            return current
        return torch.lerp(averaged, current.to(averaged.dtype), 1.0 - self.decay)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Lightning's setup calls configure_model (SERModule's only compiles the net) and deep-copies the module;
        # the averaged copy needs neither the compiled graph nor a second compile, so it is built here directly.
        if stage != "fit":
            return
        compiled = pl_module.__dict__.get("_compiled")
        if compiled is not None:
            object.__setattr__(pl_module, "_compiled", None)
        try:
            self._average_model = AveragedModel(
                model=pl_module, device=self._device or pl_module.device, use_buffers=self._use_buffers, **self._kwargs
            )
        finally:
            if compiled is not None:
                object.__setattr__(pl_module, "_compiled", compiled)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        batches = trainer.num_training_batches
        steps = max(1, int(batches if batches != float("inf") else 1) // max(1, trainer.accumulate_grad_batches))
        self.decay = 0.5 ** (1.0 / (self.half_life * steps))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "half_life": self.half_life}
