"""Sweeps: every swept key is a real CLI argument; the local runner and heatmap work end to end."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from sermodels.cli import cli_main
from sermodels.plots import plot_heatmap
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("sweep_file", SWEEPS, ids=lambda p: p.stem)
def test_sweep_parameters_are_cli_arguments(sweep_file: Path, ser_cache: Path) -> None:
    sweep = yaml.safe_load(sweep_file.read_text())
    configs = [a.split("=", 1)[1] for a in sweep["command"] if a.startswith("--config=")]
    for key, spec in sweep["parameters"].items():
        for value in (spec["values"][0], spec["values"][-1]) if "values" in spec else (spec["value"],):
            cli = cli_main(
                [*[f"--config={ROOT / c}" for c in configs], "--data.corpus=synthetic", f"--data.cache_dir={ser_cache}",
                 f"--{key}={value if isinstance(value, str) else json.dumps(value)}"],
                run=False,
            )
            node = cli.config
            for part in key.split("."):
                node = node[part]
            assert node == value


def test_heatmap_png(tmp_path: Path) -> None:
    rows = [{"num_heads": h, "segment_length": s, "val/ua": 0.5 + 0.01 * h} for h in (1, 8) for s in (1.4, 2.0)]
    rows.append({"num_heads": 2, "segment_length": 1.4, "val/ua": None})
    png = plot_heatmap(rows, "num_heads", "segment_length", "val/ua", tmp_path / "h.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_runner_speaker_folds_test_the_best_on_validation(ser_cache: Path, tmp_path: Path) -> None:
    """STA-CNN under the speaker protocol: the monitored (best on validation) checkpoint is tested."""
    from sermodels import experiment  # noqa: PLC0415

    out = tmp_path / "cv" / "sta"
    passthrough = [*config_args("sta_cnn"),
                   f"--data.cache_dir={ser_cache}", f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
                   "--data.batch_size=8", "--data.extract_workers=0", "--data.segment_length=1.0",
                   "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"]
    experiment.main(["--out", str(out), "--folds", "--", *passthrough])
    results = [json.loads(p.read_text()) for p in sorted(out.glob("default/*/result.json"))]
    assert len(results) == 3
    assert all(r["checkpoint"].endswith("best.ckpt") and r["selection"].startswith("best val/wa") for r in results)
    # The folds together test every utterance exactly once; no test speaker is a training speaker.
    assert sum(r["metrics"]["num_utterances"] for r in results) == 3 * 4 * 2
    assert all(r["metrics"]["split"]["protocol"] == "speaker" for r in results)


@pytest.mark.slow
def test_leaky_segment_split_is_labelled_and_leaks(ser_cache: Path, tmp_path: Path) -> None:
    args = [*config_args("strl_ser"),
            f"--data.cache_dir={ser_cache}", f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", "--data.batch_size=8",
            "--data.extract_workers=0", "--data.progress=false", "--data.split_unit=segment"]
    cli = cli_main(args, run=False)
    dm = cli.datamodule
    dm.prepare_data()
    dm.setup("fit")
    train, val = dm.datasets["train"].tensors, dm.datasets["val"].tensors
    shared = set(train["utt_index"].tolist()) & set(val["utt_index"].tolist())
    assert shared  # sibling segments on both sides: the paper protocol never does this
    assert dm.split_info["leaky"] is True and dm.split_info["split_unit"] == "segment"
    assert set(dm.split.train) >= set(dm.split.val)  # checkpoints record every pooled utterance as trained on
    # STA-CNN's 6:2:2 reading: all three parts' segments pooled and re-split in the same ratios; the held-out test
    # part then shares recordings with training too.
    three = cli_main([*args, "--data.ratios=[0.6,0.2,0.2]", "--data.segment_length=0.5"], run=False).datamodule
    three.prepare_data()
    three.setup("fit")
    parts = {k: three.datasets[k].tensors for k in ("train", "val", "test")}
    n = sum(len(t["target"]) for t in parts.values())
    seg = torch.cat([t["segment_index"] for t in parts.values()])
    assert sorted(seg.tolist()) == list(range(n))  # every segment of the corpus once: none lost or doubled
    assert len(set(torch.cat([t["utt_index"] for t in parts.values()]).tolist())) == 24
    assert [len(parts[k]["target"]) for k in ("val", "test")] == [round(n * 0.2 / 1.0)] * 2
    assert set(parts["train"]["utt_index"].tolist()) & set(parts["test"]["utt_index"].tolist())
    assert not three.split.test_is_val and three.split_info["leaky"] is True
    assert three.split_info["num_segments_after_resplit"] == {k: len(t["target"]) for k, t in parts.items()}
    # The two-part re-split is unchanged: validation = the first round(n * 0.2) of the seeded permutation.
    n2 = len(train["target"]) + len(val["target"])
    order = torch.randperm(n2, generator=torch.Generator().manual_seed(0))
    assert sorted(val["segment_index"].tolist()) == sorted(order[: round(n2 * 0.2)].tolist())
    assert set(three.split.train) >= set(three.split.test)
    with pytest.raises(ValueError, match="split_unit=segment.*protocol paper"):
        bad = cli_main([*args, "--data.protocol=speaker"], run=False).datamodule
        bad.prepare_data()
        bad.setup("fit")


@pytest.mark.parametrize("sweep_file", SWEEPS, ids=lambda p: p.stem)
def test_sweeps_never_select_on_the_reported_set(sweep_file: Path) -> None:
    """The selection metric is a validation one, measured on a split that is not the reported test set."""
    sweep = yaml.safe_load(sweep_file.read_text())
    assert sweep["metric"]["name"].startswith("val/")
    params = {k: spec.get("value", spec.get("values")) for k, spec in sweep["parameters"].items()}
    held_out = params.get("data.protocol") == "speaker" or len(params.get("data.ratios") or []) == 3
    assert held_out, f"{sweep_file.name}: under the 80/20 paper split val/* IS the reported set"
    assert "SELECTION" in sweep_file.read_text()  # and the file says so


def test_local_runner_applies_sweep_constants_but_not_placeholders() -> None:
    from sermodels.experiment import grid_points  # noqa: PLC0415

    points = grid_points(str(ROOT / "configs/sweeps/strl_ser_ravdess_heads.yaml"), [])
    assert [p for p, _ in points][:2] == ["num_heads1", "num_heads2"]
    assert all(o["data.ratios"] == [0.6, 0.2, 0.2] and "data.root" not in o for _, o in points)
    speaker = grid_points(str(ROOT / "configs/sweeps/strl_ser_ravdess_heads_speaker.yaml"), [])
    assert len(speaker) == 6 and all("data.fold" not in o and "data.protocol" not in o for _, o in speaker)  # --folds does
