"""Diagnostic callbacks: readings that measure what a published number could hide, never a model's score.

``ReportedSetCurve`` scores the held-out test set after every validation epoch and logs it as
``leaky_test/wa`` and ``leaky_test/ua``, so the experiment runner can say what picking the best epoch *on the
reported set* would have reported (a paper that keeps "the best test accuracy" does exactly that). It selects
nothing itself, and a checkpoint or early stop that monitors its keys is refused::

    ser fit -c configs/trainer.yaml -c configs/model/sta_cnn.yaml -c configs/data/ravdess.yaml --data.root RAVDESS \\
        --trainer.callbacks+=sermodels.diagnostics.ReportedSetCurve

Where the test set *is* the validation set (STRL-SER's 80/20) the validation curve already is that reading, and the
callback does nothing.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from sermodels.metrics import UtteranceMetrics

#: The prefix of what the callback logs; nothing may select on it.
PREFIX = "leaky_test/"


class ReportedSetCurve(Callback):
    """LEAKY diagnostic: the held-out test set's utterance-level WA/UA after every validation epoch."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for cb in trainer.callbacks:  # type: ignore[attr-defined]
            monitor = getattr(cb, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith(PREFIX):
                raise ValueError(
                    f"{type(cb).__name__} monitors {monitor!r}, the test set's curve that ReportedSetCurve logs as a "
                    "LEAKY diagnostic: selecting on it reports a score chosen on the test set. Set that callback's "
                    "monitor to a validation metric (e.g. --trainer.callbacks.init_args.monitor=val/ua), or drop "
                    "sermodels.diagnostics.ReportedSetCurve from trainer.callbacks."
                )

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        dm: Any = getattr(trainer, "datamodule", None)
        split = getattr(dm, "split", None)
        fitting = trainer.state.fn is not None and trainer.state.fn.value == "fit"  # not `ser validate`
        if not fitting or trainer.sanity_checking or dm is None or split is None or split.test_is_val or "test" not in dm.datasets:
            return  # no held-out test set: the validation curve is the reported set's
        hp = pl_module.hparams
        metric = UtteranceMetrics(hp["num_classes"], hp.get("aggregation", "mean"), getattr(pl_module, "class_names", None))
        metric = metric.to(pl_module.device)
        with torch.inference_mode(), trainer.precision_plugin.val_step_context():
            for batch in dm.test_dataloader():
                batch = trainer.strategy.batch_to_device(batch)
                probs = pl_module(batch).softmax(dim=-1)
                metric.update(probs, batch["target"], batch["utt_index"], batch.get("segment_index"))
        found = metric.compute()
        pl_module.log_dict({f"{PREFIX}wa": found["wa"].float(), f"{PREFIX}ua": found["ua"].float()})
