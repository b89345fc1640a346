"""A killed fit resumed from last.ckpt reproduces the uninterrupted run exactly, history included."""

import csv
import json
from pathlib import Path

import pytest
import torch

from sermodels.cli import cli_main
from sermodels.module import SERModule
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


class Killed(RuntimeError):
    """Stands in for the process being killed between two epochs."""


def _args(cache: Path, runs: Path, version: str) -> list[str]:
    return [
        *config_args("strl_ser"),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.batch_size=8",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.logger.init_args.version={version}",
        "--trainer.enable_progress_bar=false",
        "--trainer.max_epochs=4",
        "--trainer.log_every_n_steps=1",
    ]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_resumed_fit_equals_uninterrupted_fit(ser_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli_main(["fit", *_args(ser_cache, tmp_path, "whole")])
    whole = tmp_path / "strl_ser" / "whole"

    real_start = SERModule.on_train_epoch_start

    def kill_at_epoch_2(self: SERModule) -> None:
        if self.current_epoch == 2:
            raise Killed("killed")
        real_start(self)

    monkeypatch.setattr(SERModule, "on_train_epoch_start", kill_at_epoch_2)
    with pytest.raises(Killed):
        cli_main(["fit", *_args(ser_cache, tmp_path, "cut")])
    monkeypatch.setattr(SERModule, "on_train_epoch_start", real_start)
    cut = tmp_path / "strl_ser" / "cut"
    assert torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    cli_main(["fit", *_args(ser_cache, tmp_path, "cut"), f"--ckpt_path={cut / 'checkpoints' / 'last.ckpt'}"])

    a = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key  # same weights, bit for bit
    # the same metrics, every epoch of them: the history before the kill is kept, nothing twice
    ra, rb = _rows(whole / "metrics.csv"), _rows(cut / "metrics.csv")
    assert [r["epoch"] for r in ra] == [r["epoch"] for r in rb]
    for x, y in zip(ra, rb):
        for key in ("val/ua", "val/wa", "val/loss", "train/loss_epoch", "step"):
            assert x.get(key, "") == y.get(key, ""), (key, x, y)
    assert {r["epoch"] for r in rb if r.get("val/ua")} == {"0", "1", "2", "3"}
