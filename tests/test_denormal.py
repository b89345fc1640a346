"""The module's ``flush_denormal`` switch: subnormal floats read as zero while ``ser`` trains, the thread's mode
is restored afterwards, and ``false`` keeps IEEE subnormals."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from sermodels.cli import cli_main
from sermodels.module import SERModule, flushes_denormals
from sermodels.strl_ser import STRLSER
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

SUBNORMAL = 1e-40  # below float32's smallest normal, 1.18e-38


class RecordFlushing(L.Callback):
    """The thread's flush-denormal mode at each training step."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int) -> None:
        self.modes.append(flushes_denormals())


@pytest.fixture(autouse=True)
def _restore_mode() -> object:
    before = flushes_denormals()
    yield
    torch.set_flush_denormal(before)


def _fit(cache: Path, runs: Path, *extra: str) -> tuple[RecordFlushing, object]:
    record = RecordFlushing()
    args = [*config_args("strl_ser"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={cache}",
            "--data.extract_workers=0", "--data.progress=false", "--data.batch_size=8", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={runs}", f"--trainer.default_root_dir={runs}", "--trainer.fast_dev_run=2", *extra]
    cli = cli_main(args, run=False)
    cli.trainer.callbacks.append(record)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return record, cli


def test_probe_reads_the_mode_torch_sets() -> None:
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals (torch.set_flush_denormal returned False)")
    assert flushes_denormals() and torch.tensor([SUBNORMAL]).item() == 0.0
    torch.set_flush_denormal(False)
    assert not flushes_denormals() and torch.tensor([SUBNORMAL]).item() > 0.0


@pytest.mark.parametrize("before", [False, True])
def test_ser_fit_flushes_while_training_and_restores_the_mode(before: bool, ser_cache: Path, tmp_path: Path) -> None:
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals")
    torch.set_flush_denormal(before)
    record, cli = _fit(ser_cache, tmp_path)
    assert cli.model.hparams.flush_denormal is True  # on by default
    assert record.modes == [True, True]  # both steps of fast_dev_run trained with subnormals flushed
    assert flushes_denormals() is before  # the caller's mode is back after fit


def test_ser_fit_with_flush_denormal_false_keeps_subnormals(ser_cache: Path, tmp_path: Path) -> None:
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals")
    record, _ = _fit(ser_cache, tmp_path, "--model.init_args.flush_denormal=false")
    assert record.modes == [False, False]
    assert flushes_denormals()  # restored to the caller's mode (on)


def test_setup_and_teardown_restore_across_stages() -> None:
    """fit then test on one module (as ser-experiment's trials do): each stage sets the mode, teardown restores it."""
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals")
    torch.set_flush_denormal(False)
    module = SERModule(STRLSER(4), num_classes=4)
    for stage in ("fit", "test"):
        module.setup(stage)
        assert flushes_denormals()
        module.teardown(stage)
        assert not flushes_denormals()


def test_bench_denormal_counts_the_subnormal_values_of_a_checkpoint(ser_cache: Path, tmp_path: Path) -> None:
    """scripts/bench_denormal.py on a real `ser fit` checkpoint (STA-CNN, one step) with subnormal values put into
    its weights and Adam moments: it counts exactly those and times both modes."""
    import importlib.util

    args = [*config_args("sta_cnn"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
            "--data.extract_workers=0", "--data.progress=false", "--data.batch_size=4", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1"]
    fit = cli_main(["fit", *args])
    ckpt_path = Path(fit.trainer.log_dir) / "checkpoints" / "latest.ckpt"
    torch.set_flush_denormal(False)  # IEEE mode, so the values put in below stay subnormal
    ckpt = torch.load(ckpt_path, weights_only=False)
    name = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point() and v.numel() >= 10)
    ckpt["state_dict"][name].view(-1)[:7] = SUBNORMAL
    moments = next(iter(ckpt["optimizer_states"][0]["state"].values()))
    moments["exp_avg"].view(-1)[:3] = SUBNORMAL
    torch.save(ckpt, tmp_path / "sub.ckpt")
    spec = importlib.util.spec_from_file_location("bench_denormal", Path(__file__).parents[1] / "scripts" / "bench_denormal.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main([str(tmp_path / "sub.ckpt"), "--steps", "1", "--out", str(tmp_path / "bench.json")])
    assert (result["subnormal_weights"], result["subnormal_adam_moments"]) == (7, 3)
    assert result["epoch"] == 0 and result["step_ms_ieee_subnormals"] > 0 and result["step_ms_flushed"] > 0
    assert json.loads((tmp_path / "bench.json").read_text()) == result
    assert not flushes_denormals()  # the script restores the caller's mode


def test_a_failing_fit_restores_the_mode_too(ser_cache: Path, tmp_path: Path) -> None:
    """Lightning skips teardown when a stage raises: the module's exception callback restores the mode."""
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals")
    torch.set_flush_denormal(False)

    class Boom(L.Callback):
        def on_train_batch_start(self, *args: object) -> None:
            raise RuntimeError("boom")

    args = [*config_args("strl_ser"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
            "--data.extract_workers=0", "--data.progress=false", "--data.batch_size=8", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={tmp_path}", f"--trainer.default_root_dir={tmp_path}", "--trainer.fast_dev_run=1"]
    cli = cli_main(args, run=False)
    cli.trainer.callbacks.append(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert not flushes_denormals()


def test_bench_denormal_refuses_a_checkpoint_without_optimiser_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A weights-only checkpoint cannot be resumed or timed: the script names the file and says which one to pass."""
    import importlib.util

    torch.save({"state_dict": {"w": torch.zeros(3)}, "epoch": 0}, tmp_path / "weights.ckpt")
    spec = importlib.util.spec_from_file_location("bench_denormal", Path(__file__).parents[1] / "scripts" / "bench_denormal.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path / "weights.ckpt")])
    err = capsys.readouterr().err
    assert "weights.ckpt" in err and "no optimiser state" in err and "latest.ckpt" in err
