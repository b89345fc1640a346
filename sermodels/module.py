"""One LightningModule for every net: segment training, utterance-level evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn
from torch.nn import functional as F

from sermodels.averaging import EpochEMA
from sermodels.metrics import UtteranceMetrics, segment_metric_collection
from sermodels.rng import collect_rng_state, restore_rng_state

__all__ = ["SERModule", "NonFiniteError", "bf16_cpu_supported", "flushes_denormals", "net_inputs", "nonfinite_tensors"]

#: Checkpoint key of the generators' state (a resumed fit continues their draws exactly).
RNG_STATE_KEY = "rng_state"


def bf16_cpu_supported() -> bool:
    """Whether this CPU has oneDNN's bfloat16 kernels (AVX-512 and newer). Without them a bfloat16 LSTM has no
    kernel at all: under ``bf16-mixed`` autocast it fails at its first step."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return True if probe is None else bool(probe())


def flushes_denormals() -> bool:
    """Whether this thread flushes subnormal floats to zero (``torch.set_flush_denormal``, which has no getter):
    a subnormal float32 (1e-40) reads as 0 when flushing is on."""
    return torch.tensor([1e-40], dtype=torch.float32).mul(1.0).item() == 0.0


class _RestoreFlushOnException(L.Callback):
    """Lightning skips the module's ``teardown`` when a stage raises: restore the flush-denormal mode there too."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(pl_module, SERModule):
            pl_module.teardown("exception")


class NonFiniteError(FloatingPointError):
    """Training diverged (NaN/inf loss) or a net holds NaN/inf weights; the message says what to try."""


def net_inputs(net: nn.Module) -> tuple[str, ...]:
    """The batch keys ``net.forward`` takes, in order: the net's ``inputs`` attribute (e.g. ``("lld", "hsf")``).

    Raises:
        TypeError: The net declares no ``inputs``.
    """
    inputs = getattr(net, "inputs", None)
    if inputs is None or isinstance(inputs, str):
        raise TypeError(
            f"model.net: {type(net).__name__} must declare the batch keys its forward reads as a class attribute "
            f"`inputs`, e.g. inputs = (\"lld\", \"hsf\"); got {inputs!r}."
        )
    return tuple(str(k) for k in inputs)


def nonfinite_tensors(module: nn.Module) -> list[str]:
    """Names of the parameters and buffers of ``module`` that hold a NaN or infinite value."""
    named = [*module.named_parameters(), *module.named_buffers()]
    return [name for name, t in named if t.is_floating_point() and not bool(torch.isfinite(t).all())]


class SERModule(L.LightningModule):
    """Trains any net on segments and scores it on utterances.

    The net is a plain ``nn.Module`` with a class attribute ``inputs`` naming the batch keys its
    ``forward`` takes (``("lld", "hsf")`` for STRL-SER, ``("wave",)`` for STA-CNN) and returning
    logits ``(B, C)``. Loss: cross-entropy on segments. Evaluation: segment softmax outputs are
    aggregated per utterance (mean, Eq. 23 of STRL-SER, or majority vote) by
    :class:`~sermodels.metrics.UtteranceMetrics`, which gathers across processes before
    aggregating, so an utterance split over DDP ranks is still scored once. Logged as
    ``val/<metric>`` and ``test/<metric>`` (utterance level) and ``val/segment_<metric>``.
    If the net has ``fit_normalization`` (STA-CNN's spectral front end), it is fitted once on the
    training split's waveforms at the start of ``fit``.

    Args:
        net: The network.
        optimizer: Optimizer factory (LightningCLI ``OptimizerCallable``); default Adam with PyTorch's
            defaults. The models' tuned values (lr, weight decay) live in ``configs/model/<model>.yaml``.
        scheduler: LR scheduler factory, stepped once per epoch; ``None`` for a constant rate.
        num_classes: Number of classes (linked from the DataModule by the CLI).
        class_names: Class names in target order (linked from the DataModule).
        aggregation: Utterance aggregation of segment outputs: ``mean`` of softmax or ``vote``.
        label_smoothing: Cross-entropy label smoothing (0 as in the papers).
        artifacts: On ``test``, let :class:`sermodels.results.RunResults` (a callback every ``ser``
            trainer has) write ``test_metrics.json``, ``test_predictions.csv`` and the confusion matrix
            PNG into the run folder. The module itself writes no files: it keeps the epoch's
            ``last_test_metrics`` and per-utterance ``last_test_predictions`` for the callback.
        compile: Run the net through ``torch.compile`` (the module's weights and checkpoints
            are unchanged: only the forward is compiled). Mixed precision is the trainer's
            switch: ``--trainer.precision bf16-mixed``; losses, softmax outputs and metrics stay
            float32 either way.
        mixup_alpha: Opt-in mixup of segments within a batch (inputs and targets), mixing weight
            drawn from Beta(alpha, alpha); 0 (default, as in the papers) turns it off. Not in
            either paper: an improvement reported as its own row.
        ema_half_life: Opt-in exponential moving average of the weights, its half-life in epochs
            (:class:`sermodels.averaging.EpochEMA`, which this module then adds to the trainer):
            validation, checkpoints and the final model hold the averaged weights. 0 (default, as in
            the papers) turns it off. Not in either paper: reported as its own row.
        flush_denormal: Flush subnormal floats (|x| < 1.2e-38) to zero on the CPU while this module trains,
            tests or predicts (``torch.set_flush_denormal``, x86 FTZ/DAZ; restored afterwards). On by default:
            weight decay drives some of STA-CNN's weights and Adam states subnormal, and every CPU operation on
            them is slow, so an unflushed fit slowed down about 6x by epoch 40 of 150 (RAVDESS 6:2:2 with speed
            copies; docs/results.md). Each operation changes only values below 1.2e-38, but a flushed fit is
            not bit-identical to an unflushed one; ``false`` keeps IEEE subnormals. The mode is per thread: it
            covers the calling thread and intra-op threads created after it. GPUs are not affected.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        num_classes: int = 2,
        class_names: list[str] | None = None,
        aggregation: Literal["mean", "vote"] = "mean",
        label_smoothing: float = 0.0,
        artifacts: bool = True,
        compile: bool = False,
        mixup_alpha: float = 0.0,
        ema_half_life: float = 0.0,
        flush_denormal: bool = True,
    ) -> None:
        super().__init__()
        if not mixup_alpha >= 0:
            raise ValueError(f"Expected model.init_args.mixup_alpha >= 0 (0 = off, e.g. 0.2), got {mixup_alpha!r}")
        if not ema_half_life >= 0:
            raise ValueError(
                f"Expected model.init_args.ema_half_life >= 0 epochs (0 = off, e.g. 1.0), got {ema_half_life!r}"
            )
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        net_inputs(net)  # the net must say which batch keys it reads
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        if len(self.class_names) != num_classes:
            raise ValueError(f"model.class_names has {len(self.class_names)} names but num_classes is {num_classes}.")
        self.val_utt = UtteranceMetrics(num_classes, aggregation, self.class_names)
        self.test_utt = UtteranceMetrics(num_classes, aggregation, self.class_names)
        self.val_seg = segment_metric_collection(num_classes, prefix="val/segment_")
        self.test_seg = segment_metric_collection(num_classes, prefix="test/segment_")
        self.train_seg = segment_metric_collection(num_classes, prefix="train/segment_")
        self.last_test_metrics: dict[str, torch.Tensor] = {}
        self.last_test_predictions: dict[str, torch.Tensor] = {}  # per utterance: utt_index, probs, preds, target
        self._compiled: Any = None  # torch.compile(net), kept out of the module tree (no state_dict keys)
        self._flush_before: bool | None = None  # the thread's flush-denormal mode before setup (restored at teardown)

    # ------------------------------------------------------------------ forward
    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = net_inputs(self.net)
        missing = [k for k in inputs if k not in batch]
        if missing:
            raise KeyError(
                f"{type(self.net).__name__} reads {list(inputs)} but the batch lacks {missing}; "
                f"set data.inputs to include them."
            )
        net = self._compiled if self._compiled is not None else self.net
        return net(*[batch[k] for k in inputs]).float()  # float32 logits under bf16 autocast too

    def configure_callbacks(self) -> list[L.Callback]:
        half_life = float(self.hparams.get("ema_half_life") or 0.0)
        trainer = self._trainer
        fitting = trainer is not None and trainer.state.fn is not None and trainer.state.fn.value == "fit"
        callbacks: list[L.Callback] = [_RestoreFlushOnException()]  # teardown is skipped when a stage fails
        if half_life > 0 and fitting:  # test/predict read the averaged weights from the checkpoint: nothing to average
            callbacks.append(EpochEMA(half_life))
        return callbacks

    def configure_model(self) -> None:
        if self.hparams.get("compile") and self._compiled is None:
            object.__setattr__(self, "_compiled", torch.compile(self.net))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        alpha = float(self.hparams.get("mixup_alpha") or 0.0)
        if alpha > 0:
            return self._mixup_step(batch, alpha)
        logits = self(batch)
        loss = F.cross_entropy(logits, batch["target"], label_smoothing=self.hparams["label_smoothing"])
        if not bool(torch.isfinite(loss)):
            self._diverged(f"the training loss is {float(loss.detach())}", batch_idx, batch)
        self.train_seg(logits.detach(), batch["target"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(logits))
        self.log_dict(self.train_seg, on_step=False, on_epoch=True, batch_size=len(logits))
        return loss

    def _mixup_step(self, batch: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
        """Mixup (Zhang et al. 2018): each segment's inputs and targets mixed with another's."""
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        lam = max(lam, 1.0 - lam)  # the segment keeps the larger share: its own label dominates
        perm = torch.randperm(len(batch["target"]), device=batch["target"].device)
        mixed = dict(batch)
        for key in net_inputs(self.net):
            mixed[key] = lam * batch[key] + (1.0 - lam) * batch[key][perm]
        logits = self(mixed)
        smoothing = self.hparams["label_smoothing"]
        loss = lam * F.cross_entropy(logits, batch["target"], label_smoothing=smoothing) + (1.0 - lam) * F.cross_entropy(
            logits, batch["target"][perm], label_smoothing=smoothing
        )
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(logits))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], utt: UtteranceMetrics, seg: Any, stage: str) -> None:
        logits = self(batch)
        loss = F.cross_entropy(logits, batch["target"])
        utt.update(logits.softmax(dim=-1), batch["target"], batch["utt_index"], batch.get("segment_index"))
        seg.update(logits, batch["target"])
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=len(logits))

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.val_utt, self.val_seg, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.test_utt, self.test_seg, "test")

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        out = {"probs": self(batch).softmax(dim=-1), "utt_index": batch["utt_index"]}
        if "segment_index" in batch:
            out["segment_index"] = batch["segment_index"]
        return out

    # ------------------------------------------------------------------ non-finite values
    def _diverged(self, what: str, batch_idx: int | None = None, batch: dict[str, torch.Tensor] | None = None) -> None:
        where = f"epoch {self.current_epoch}" + (f", batch {batch_idx}" if batch_idx is not None else "")
        detail = ""
        if batch is not None:
            bad_inputs = [k for k in net_inputs(self.net) if not bool(torch.isfinite(batch[k]).all())]
            detail = (f" The batch's {bad_inputs} hold NaN/inf values: the features are broken, not the training."
                      if bad_inputs else " The batch's inputs are finite.")
        bad = nonfinite_tensors(self.net)
        if bad:
            detail += f" Non-finite weights: {bad[:5]}{' ...' if len(bad) > 5 else ''}."
        raise NonFiniteError(
            f"Training diverged at {where}: {what}.{detail} The fit is stopped so no NaN weights are saved "
            "(the last good checkpoint is kept). Try a lower learning rate (--model.init_args.optimizer.init_args.lr), "
            "gradient clipping (--trainer.gradient_clip_val 1.0) or 32-bit precision (--trainer.precision 32)."
        )

    def _check_weights(self, stage: str) -> None:
        bad = nonfinite_tensors(self)
        if bad:
            source = getattr(self.trainer, "ckpt_path", None) or "the model in memory"
            raise NonFiniteError(
                f"Refusing to {stage}: {source} holds NaN/inf weights ({bad[:5]}{' ...' if len(bad) > 5 else ''}), "
                "so every score would be meaningless. It comes from a diverged fit: re-train with a lower learning "
                "rate or gradient clipping, or pick an earlier checkpoint."
            )

    def on_train_epoch_end(self) -> None:
        bad = nonfinite_tensors(self.net)
        if bad:
            self._diverged(f"weights became NaN/inf ({bad[:5]})")

    def on_validation_start(self) -> None:
        self._check_weights("validate")

    def on_test_start(self) -> None:
        self._check_weights("test")

    def on_predict_start(self) -> None:
        self._check_weights("predict")

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write non-finite weights; store the generators' state (exact resume)."""
        bad = [k for k, v in checkpoint.get("state_dict", {}).items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            self._diverged(f"the weights to be checkpointed hold NaN/inf values ({bad[:5]})")
        checkpoint[RNG_STATE_KEY] = collect_rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resume the generators where the checkpoint left them (``fit`` only: evaluation draws nothing)."""
        trainer = self._trainer
        fitting = trainer is not None and trainer.state.fn is not None and trainer.state.fn.value == "fit"
        if fitting and RNG_STATE_KEY in checkpoint:
            restore_rng_state(checkpoint[RNG_STATE_KEY])
        elif fitting:
            rank_zero_warn(
                "This checkpoint holds no random-generator state (written by an older version): the resumed fit "
                "continues, but its dropout draws differ from an uninterrupted run's."
            )

    # ------------------------------------------------------------------ epoch ends
    def _log_epoch(self, utt: UtteranceMetrics, seg: Any, stage: str) -> dict[str, torch.Tensor]:
        metrics = utt.compute()  # already gathered over processes: log without re-reducing
        scalars = {f"{stage}/{k}": v.float() for k, v in metrics.items() if v.ndim == 0 and k != "num_utterances"}
        shown = {k: scalars.pop(k) for k in (f"{stage}/wa", f"{stage}/ua")}
        self.log_dict(shown, prog_bar=True)
        self.log_dict(scalars)
        self.log_dict(seg.compute())
        seg.reset()
        return metrics

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.val_utt, self.val_seg, "val")
        self.val_utt.reset()

    def on_test_epoch_end(self) -> None:
        metrics = self._log_epoch(self.test_utt, self.test_seg, "test")
        # Result files and pictures are written from these by sermodels.results.RunResults (a callback).
        self.last_test_metrics = {k: v.detach().cpu() for k, v in metrics.items()}
        utt, probs, preds, target = self.test_utt.utterance_predictions()
        self.last_test_predictions = {"utt_index": utt.cpu(), "probs": probs.cpu(), "preds": preds.cpu(), "target": target.cpu()}
        self.test_utt.reset()

    # ------------------------------------------------------------------ hooks
    def setup(self, stage: str) -> None:
        """``flush_denormal``: set the thread's mode for this stage (the thread that trains, tests or predicts).
        ``bf16-mixed`` on a CPU without bfloat16 kernels is refused here, for a net with an LSTM (both papers'), with
        the way out, instead of failing in oneDNN at the first step."""
        trainer = self._trainer
        if (trainer is not None and str(trainer.precision).startswith("bf16") and trainer.strategy.root_device.type == "cpu"
                and any(isinstance(m, torch.nn.RNNBase) for m in self.net.modules()) and not bf16_cpu_supported()):
            raise RuntimeError(
                f"--trainer.precision {trainer.precision}: this CPU ({torch.backends.cpu.get_cpu_capability()}, no "
                f"AVX-512) has no bfloat16 kernels in oneDNN, so {type(self.net).__name__}'s LSTM cannot run in bfloat16 "
                "here. Use --trainer.precision 32-true on this machine (bf16-mixed needs an AVX-512 CPU or a GPU).")
        if self._flush_before is None:
            self._flush_before = flushes_denormals()
        torch.set_flush_denormal(bool(self.hparams.get("flush_denormal", True)))

    def teardown(self, stage: str) -> None:
        if self._flush_before is not None:
            torch.set_flush_denormal(self._flush_before)
            self._flush_before = None

    def on_fit_start(self) -> None:
        fit = getattr(self.net, "fit_normalization", None)
        frontend = getattr(self.net, "frontend", None)
        if fit is None or bool(getattr(frontend, "fitted", False)):
            return  # nothing to fit, or already fitted (e.g. resumed from a checkpoint)
        dm = getattr(self.trainer, "datamodule", None)  # set by Lightning's data connector (undeclared on Trainer)
        if dm is None:
            raise RuntimeError("This net fits input normalisation on the training split: train it with a DataModule.")
        rank_zero_info("Fitting input normalisation on the training split ...")

        def waves() -> Iterator[torch.Tensor]:
            for batch in dm.train_dataloader():
                yield batch[net_inputs(self.net)[0]].to(self.device)

        fit(waves())

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"}}


#: Former per-model subclasses that carried the papers' optimiser defaults in code. Those values now live
#: only in configs/model/strl_ser.yaml and sta_cnn.yaml; the names stay so that the config.yaml and
#: checkpoints of earlier runs (which name these classes and spell out their optimiser) still load.
STRLSERModule = SERModule
STACNNModule = SERModule
