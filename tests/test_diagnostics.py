"""sermodels.diagnostics.ReportedSetCurve: the held-out test set scored after every epoch (a LEAKY diagnostic),
read back by the runner as the best epoch picked on the reported set; never a selection key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sermodels import experiment
from sermodels.cli import cli_main
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

CURVE = "--trainer.callbacks+=sermodels.diagnostics.ReportedSetCurve"


def _args(cache: Path, *extra: str) -> list[str]:
    return [*config_args("strl_ser"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={cache}",
            "--data.extract_workers=0", "--data.progress=false", "--data.batch_size=8", "--trainer.enable_progress_bar=false",
            "--trainer.max_epochs=3", *extra]


@pytest.mark.slow
def test_test_curve_is_logged_and_read_as_a_leaky_reading(ser_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    experiment.main(["--out", str(out), "--seeds", "0", "--", *_args(ser_cache, "--data.ratios=[0.6,0.2,0.2]", CURVE)])
    (result,) = [json.loads(p.read_text()) for p in out.glob("default/*/result.json")]
    curve = result["test_history"]
    assert [h["epoch"] for h in curve] == [0, 1, 2]  # one reading per epoch
    # The curve's last point is the last epoch's model on the same test set: what `ser test` of last.ckpt reports.
    assert result["selection"].startswith("last epoch") and not result["test_is_val"]
    assert curve[-1]["ua"] == pytest.approx(result["metrics"]["ua"], abs=1e-6)
    assert curve[-1]["wa"] == pytest.approx(result["metrics"]["wa"], abs=1e-6)
    (group,) = json.loads((out / "aggregate.json").read_text())["groups"]
    best = group["best_epoch_on_reported_set"]
    assert best["ua"]["mean"] == pytest.approx(max(h["ua"] for h in curve)) and "LEAKY" in best["note"]
    assert "best epoch picked on the reported set (LEAKY, optimistic)" in (out / "summary.md").read_text()


@pytest.mark.slow
def test_selecting_on_the_test_curve_is_refused(ser_cache: Path, tmp_path: Path) -> None:
    monitor = ("--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping",
               "--trainer.callbacks.monitor=leaky_test/ua", "--trainer.callbacks.mode=max")
    args = _args(ser_cache, "--data.ratios=[0.6,0.2,0.2]", CURVE, *monitor,
                 f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}")
    with pytest.raises(ValueError, match="leaky_test/ua.*LEAKY.*monitor=val/ua"):
        cli_main(["fit", *args])
    checkpoint = ("--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
                  "--trainer.callbacks.monitor=leaky_test/wa", "--trainer.callbacks.mode=max")
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'leaky_test/wa'"):
        cli_main(["fit", *_args(ser_cache, "--data.ratios=[0.6,0.2,0.2]", CURVE, *checkpoint,
                                f"--trainer.logger.init_args.save_dir={tmp_path}")])


@pytest.mark.slow
def test_no_curve_where_the_test_set_is_the_validation_set(ser_cache: Path, tmp_path: Path) -> None:
    """80/20 (test = validation): the validation curve already is the reported set's; nothing extra is logged."""
    out = tmp_path / "exp"
    experiment.main(["--out", str(out), "--seeds", "0", "--", *_args(ser_cache, CURVE)])
    (result,) = [json.loads(p.read_text()) for p in out.glob("default/*/result.json")]
    assert result["test_is_val"] and "test_history" not in result
