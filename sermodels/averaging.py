"""Opt-in weight averaging: an exponential moving average (EMA) of the weights, its half-life in epochs.

Not in either paper: an improvement beyond them, reported as its own row (docs/reproduction.md). It is
Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` (validation, checkpoints and the model
left after ``fit`` all hold the averaged weights; a resumed fit restores both copies) with the decay set
from a half-life in *epochs*, so one setting means the same averaging window on a 535-utterance corpus
and on a 1440-utterance one, whatever the batch size. Switched on with
``--model.init_args.ema_half_life 1.0`` (the module adds this callback) or added to the trainer directly
(``--trainer.callbacks+=sermodels.averaging.EpochEMA``). Callbacks see the averaged weights during validation
only if they run after this one's swap: the module's switch puts it last, so a test-set curve
(``sermodels.diagnostics.ReportedSetCurve``) scores the average too; listed by hand, put it first.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.utilities import rank_zero_warn
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
        weights_only = [cb for cb in trainer.checkpoint_callbacks if getattr(cb, "save_weights_only", False)]
        if weights_only:
            raise ValueError(
                "The weight EMA (model.init_args.ema_half_life / EpochEMA) cannot work with a ModelCheckpoint that has "
                "save_weights_only=true: Lightning then skips the callbacks' checkpoint hooks, so the checkpoint would "
                "hold the raw weights while validation scored the average. Set save_weights_only: false.")
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
        batches = int(batches) if batches != float("inf") else 1
        steps = max(1, math.ceil(batches / max(1, trainer.accumulate_grad_batches)))  # optimiser steps per epoch
        self.decay = 0.5 ** (1.0 / (self.half_life * steps))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "half_life": self.half_life}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        saved = state_dict.get("half_life")
        if saved is not None and float(saved) != self.half_life:
            rank_zero_warn(f"Resuming a fit whose weight EMA had a half-life of {saved} epochs with {self.half_life}: "
                           "the average carries on with the new one (pass the same ema_half_life to continue it as it was).")
