"""Opt-in weight EMA (sermodels.averaging.EpochEMA, the module's ema_half_life): the average by hand, checkpoints, switch."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from sermodels.averaging import EpochEMA
from sermodels.cli import cli_main
from sermodels.module import SERModule
from sermodels.strl_ser import STRLSER
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

STEPS_PER_EPOCH = 4
LR = 0.1


class ConstantGradient(L.LightningModule):
    """One weight vector, SGD on a loss whose gradient is constant: after step t the weights are w0 - t * LR * g."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # an integer buffer: copied, never averaged
        self.g = torch.tensor([0.5, 1.5])
        self.validated: list[torch.Tensor] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.steps += 1
        return (self.w * self.g).sum()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        if batch_idx == 0:
            self.validated.append(self.w.detach().clone())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=LR)


class Killed(RuntimeError):
    """Stands in for the process being killed between two epochs."""


class KillAtEpoch(L.Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise Killed(f"killed before epoch {self.epoch}")


def _loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.zeros(STEPS_PER_EPOCH, 1)), batch_size=1)


def _by_hand(steps: int, half_life: float) -> torch.Tensor:
    decay = 0.5 ** (1 / (half_life * STEPS_PER_EPOCH))
    w0, g = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 1.5])
    avg = w0 - LR * g  # the first update copies the weights after step 1
    for t in range(2, steps + 1):
        avg = decay * avg + (1 - decay) * (w0 - t * LR * g)
    return avg


def _trainer(root: Path, epochs: int, ema: EpochEMA) -> L.Trainer:
    last = ModelCheckpoint(dirpath=root, save_last=True, filename="latest", enable_version_counter=False)  # as ser runs
    return L.Trainer(max_epochs=epochs, callbacks=[ema, last], default_root_dir=root, logger=False,
                     enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)


def test_average_matches_the_formula_validation_and_the_fitted_model_hold_it(tmp_path: Path) -> None:
    model, ema = ConstantGradient(), EpochEMA(half_life=1.0)
    _trainer(tmp_path, 3, ema).fit(model, _loader(), _loader())
    assert ema.decay == pytest.approx(0.5 ** (1 / STEPS_PER_EPOCH))  # half-life of one epoch = 4 steps
    for epoch, seen in enumerate(model.validated):  # validation scored the average, not the raw weights
        torch.testing.assert_close(seen, _by_hand(STEPS_PER_EPOCH * (epoch + 1), 1.0))
    torch.testing.assert_close(model.w.detach(), _by_hand(3 * STEPS_PER_EPOCH, 1.0))  # the model fit leaves
    assert int(model.steps) == 3 * STEPS_PER_EPOCH  # the step counter is copied, not averaged
    raw = torch.tensor([1.0, -2.0]) - 3 * STEPS_PER_EPOCH * LR * torch.tensor([0.5, 1.5])
    assert not torch.allclose(model.w.detach(), raw)


def test_checkpoint_holds_the_average_and_a_resumed_fit_continues_both(tmp_path: Path) -> None:
    whole = ConstantGradient()
    _trainer(tmp_path / "whole", 4, EpochEMA(half_life=0.5)).fit(whole, _loader(), _loader())
    cut = _trainer(tmp_path / "cut", 4, EpochEMA(half_life=0.5))
    cut.callbacks.append(KillAtEpoch(2))
    with pytest.raises(Killed):
        cut.fit(ConstantGradient(), _loader(), _loader())
    ckpt = tmp_path / "cut" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    torch.testing.assert_close(saved["state_dict"]["w"], _by_hand(2 * STEPS_PER_EPOCH, 0.5))  # the average ...
    raw = torch.tensor([1.0, -2.0]) - 2 * STEPS_PER_EPOCH * LR * torch.tensor([0.5, 1.5])
    torch.testing.assert_close(saved["current_model_state"]["w"], raw)  # ... and the raw weights to resume from
    resumed = ConstantGradient()
    _trainer(tmp_path / "cut", 4, EpochEMA(half_life=0.5)).fit(resumed, _loader(), _loader(), ckpt_path=ckpt)
    torch.testing.assert_close(resumed.w.detach(), whole.w.detach())
    torch.testing.assert_close(resumed.w.detach(), _by_hand(4 * STEPS_PER_EPOCH, 0.5))


def test_weights_only_checkpoints_are_refused(tmp_path: Path) -> None:
    trainer = L.Trainer(max_epochs=1, callbacks=[EpochEMA(), ModelCheckpoint(dirpath=tmp_path, save_weights_only=True)],
                        logger=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(ValueError, match="save_weights_only"):
        trainer.fit(ConstantGradient(), _loader(), _loader())


def test_a_resume_with_another_half_life_says_so() -> None:
    ema = EpochEMA(half_life=2.0)
    with pytest.warns(UserWarning, match="half-life of 1.0 epochs with 2.0"):
        ema.load_state_dict({"latest_update_step": 3, "half_life": 1.0})


@pytest.mark.parametrize("bad", [0, -1.0, True, "1"])
def test_bad_half_life_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="half_life"):
        EpochEMA(half_life=bad)  # type: ignore[arg-type]
    if isinstance(bad, float) and bad < 0:  # 0 is the module's off switch
        with pytest.raises(ValueError, match="ema_half_life"):
            SERModule(STRLSER(4), num_classes=4, ema_half_life=bad)


def test_module_switch_adds_the_callback_to_fit_only() -> None:
    module = SERModule(STRLSER(4), num_classes=4, ema_half_life=2.0)
    for fn, expected in (("fit", True), ("test", False), ("predict", False)):
        module._trainer = SimpleNamespace(state=SimpleNamespace(fn=SimpleNamespace(value=fn)))  # type: ignore[assignment]
        callbacks = [c for c in module.configure_callbacks() if isinstance(c, EpochEMA)]
        assert len(callbacks) == (1 if expected else 0)
        if expected:
            assert callbacks[0].half_life == 2.0
    module._trainer = None
    off = SERModule(STRLSER(4), num_classes=4)
    assert off.hparams.ema_half_life == 0.0 and not any(isinstance(c, EpochEMA) for c in off.configure_callbacks())  # off by default, as in the papers


@pytest.mark.slow
def test_ser_fit_with_ema_tests_the_averaged_weights(ser_cache: Path, tmp_path: Path) -> None:
    args = [*config_args("strl_ser"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
            "--data.extract_workers=0", "--data.progress=false", "--data.batch_size=8", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--model.init_args.net.init_args.fusion_tokens=branches",
            "--trainer.max_epochs=2", "--model.init_args.ema_half_life=1.0", "--model.init_args.net.init_args.hsf_dropout=0.2"]
    fit = cli_main(["fit", *args])
    ckpt = Path(fit.trainer.log_dir) / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    assert "current_model_state" in saved and saved["callbacks"]["EpochEMA"]["half_life"] == 1.0
    averaged = {k: v for k, v in fit.model.state_dict().items()}
    for key, value in saved["state_dict"].items():  # the checkpoint's weights are the ones fit left: the average
        torch.testing.assert_close(value, averaged[key], rtol=0, atol=0, msg=key)
    differs = [k for k, v in saved["current_model_state"].items() if v.is_floating_point() and not torch.equal(v, saved["state_dict"][k])]
    assert differs  # the raw weights are kept beside it, for resuming
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    assert not any(isinstance(c, EpochEMA) for c in test.trainer.callbacks)  # nothing is averaged when testing
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert 0.0 <= metrics["ua"] <= 1.0
