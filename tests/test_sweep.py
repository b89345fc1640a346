"""Sweeps: every swept key is a real CLI argument; the local runner and heatmap work end to end."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from sermodels.cli import cli_main
from sermodels.plots import plot_heatmap
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
def test_local_sweep_runs_grid_and_resumes(ser_cache: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import sweep  # noqa: PLC0415

    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({
        "metric": {"name": "val/ua"},
        "parameters": {"model.init_args.net.init_args.num_heads": {"values": [1, 2]}, "data.segment_length": {"values": [1.0, 1.4]},
                       "data.seed": {"value": 0}},
    }))
    args = [f"--grid={grid}", f"--out={tmp_path / 'sweep'}", f"--config={ROOT / 'configs/strl_ser/base.yaml'}",
            f"--config={ROOT / 'configs/strl_ser/synthetic.yaml'}", f"--data.cache_dir={ser_cache}",
            f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", "--data.batch_size=8", "--data.extract_workers=0",
            "--data.progress=false", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}"]
    sweep.main(args)
    results = (tmp_path / "sweep" / "results.csv").read_text().splitlines()
    assert len(results) == 5 and all(line.split(",")[-1] not in ("", "None") for line in results[1:])
    assert (tmp_path / "sweep" / "heatmap.png").is_file()
    mtime = (tmp_path / "sweep" / "runs" / "num_heads1-segment_length1.0" / "metrics.csv").stat().st_mtime
    sweep.main(args)  # finished runs are not re-run
    assert (tmp_path / "sweep" / "runs" / "num_heads1-segment_length1.0" / "metrics.csv").stat().st_mtime == mtime


@pytest.mark.slow
def test_crossval_runs_every_fold_and_summarises(ser_cache: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import crossval  # noqa: PLC0415

    out = tmp_path / "cv" / "sta"
    passthrough = [f"--config={ROOT / 'configs/sta_cnn/base.yaml'}", f"--config={ROOT / 'configs/sta_cnn/synthetic.yaml'}",
                   f"--data.cache_dir={ser_cache}", f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
                   "--data.batch_size=8", "--data.extract_workers=0", "--data.progress=false", "--data.segment_length=1.0",
                   "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"]
    crossval.main(["--folds=3", f"--out={out}", "--", *passthrough])
    lines = (out / "folds.csv").read_text().splitlines()
    assert len(lines) == 4
    summary = (out / "summary.md").read_text()
    assert "| wa |" in summary and "3 folds" in summary
    # each fold's test speakers are disjoint from its training speakers (the DataModule checks the split);
    # together the folds test every utterance exactly once
    assert sum(int(line.split(",")[-1]) for line in lines[1:]) == 3 * 4 * 2


def test_segment_leak_check_resplits_segments_across_utterances(ser_cache: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    sys.path.insert(0, str(ROOT / "scripts"))
    import segment_leak_check  # noqa: PLC0415

    out = tmp_path / "leak"
    segment_leak_check.main(["--epochs=1", f"--out={out}", "--", f"--config={ROOT / 'configs/strl_ser/base.yaml'}",
                             f"--config={ROOT / 'configs/strl_ser/synthetic.yaml'}", f"--data.cache_dir={ser_cache}",
                             f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", "--data.batch_size=8",
                             "--data.extract_workers=0", "--data.progress=false", "--trainer.enable_progress_bar=false"])
    printed = capsys.readouterr().out
    shared, total = (int(x) for x in printed.split("LEAKY split: ")[1].split(" validation")[0].split(" of "))
    assert 0 < shared <= total  # the diagnostic really does leak, which the paper protocol never does
    assert "leaky segment split, epoch 0: val/wa" in printed
    assert (out / "leaky" / "metrics.csv").is_file()
