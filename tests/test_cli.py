"""Every model config and experiment file smoke-trains on synthetic audio; fit -> test -> predict round trip.

That every model x corpus composition resolves to the intended values is tests/test_configs.py.
"""

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sermodels.cli import cli_main
from tests.compose import CONFIGS, MODELS, config_args
from tests.conftest import TINY_SYNTHETIC

#: Each model on the synthetic corpus (with its demo experiment file where there is one), and every
#: other experiment file (run on the synthetic corpus with that file's settings).
SMOKE = [(m, "synthetic") for m in MODELS] + [
    tuple(p.stem.rsplit("_", 1)) for p in sorted((CONFIGS / "experiment").glob("*.yaml")) if not p.stem.endswith("_synthetic")
]


def _args(cache: Path, runs: Path, model: str = "strl_ser", corpus: str = "synthetic") -> list[str]:
    """Compose trainer + model + corpus (+ experiment) configs, but run them on the tiny synthetic corpus."""
    return [
        *config_args(model, corpus),
        "--data.corpus=synthetic",
        "--data.root=null",
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.batch_size=8",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.default_root_dir={runs}",  # fast_dev_run drops the logger: keep files in tmp
        "--trainer.enable_progress_bar=false",
    ]


def _last_linear(net: nn.Module) -> nn.Linear:
    return [m for m in net.modules() if isinstance(m, nn.Linear)][-1]


@pytest.mark.parametrize(("model", "corpus"), SMOKE, ids=lambda v: str(v))
def test_config_smoke_trains(model: str, corpus: str, ser_cache: Path, tmp_path: Path) -> None:
    cli = cli_main(["fit", *_args(ser_cache, tmp_path, model, corpus), "--trainer.fast_dev_run=2"])
    assert cli.trainer.state.finished
    assert cli.trainer.global_step == (0 if model == "baseline" else 2)  # the baseline is fitted in closed form
    # num_classes is linked from the data module into the module and the net (4 synthetic classes)
    assert cli.model.hparams.num_classes == 4 and cli.model.net.num_classes == 4
    assert cli.model.class_names == ["neutral", "happy", "angry", "sad"]


@pytest.mark.parametrize("model", sorted(p.stem for p in (CONFIGS / "recipes").glob("*.yaml")))
def test_recipe_smoke_trains(model: str, ser_cache: Path, tmp_path: Path) -> None:
    """The study's best configuration (configs/recipes/<model>.yaml) trains as composed; the speed copies
    (in both models' recipes) reach the training split."""
    recipe = f"--config={CONFIGS / 'recipes' / f'{model}.yaml'}"
    cli = cli_main(["fit", *_args(ser_cache, tmp_path, model), recipe, "--trainer.fast_dev_run=2"])
    assert cli.trainer.state.finished and cli.trainer.global_step == 2
    assert cli.model.hparams.label_smoothing == 0.1 and cli.model.hparams.mixup_alpha == 0.2
    assert set(cli.datamodule.speed_copies) == {"0.9", "1.1"} and all(cli.datamodule.speed_copies.values())
    if model == "sta_cnn":  # overlapping segments: half of the 2.0 s segment
        assert cli.datamodule.feature_config.segment_hop == 1.0 < cli.datamodule.feature_config.segment_length


def test_linked_values_reach_model_and_net(ser_cache: Path, tmp_path: Path) -> None:
    cli = cli_main([*config_args("strl_ser", "iemocap"), "--data.corpus=synthetic", f"--data.cache_dir={ser_cache}",
                    f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}"], run=False)
    assert cli.model.hparams.class_names == ["neutral", "happy", "angry", "sad"]
    assert cli.model.net.num_classes == 4 and _last_linear(cli.model.net).out_features == 4  # the net's own output layer
    assert cli.datamodule.num_frames == 59  # IEMOCAP's 2.0 s segments (configs/experiment/strl_ser_iemocap.yaml)
    assert cli.model.net.time_conv.kernel_size == (1, 5)


@pytest.mark.slow
def test_fit_test_predict_round_trip(ser_cache: Path, tmp_path: Path) -> None:
    args = _args(ser_cache, tmp_path)
    cli_main(["fit", *args, "--trainer.max_epochs=2"])
    run = tmp_path / "strl_ser" / "synthetic"
    ckpt = run / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    # The checkpoint carries what rebuilds the features: data settings, normalisation, class names.
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    data_hp = state["datamodule_hyper_parameters"]
    assert (data_hp["segment_length"], data_hp["frame_size"], data_hp["frame_shift"]) == (1.4, 0.128, 0.032)
    dm_state = state["SERDataModule"]
    assert dm_state["class_names"] == ["neutral", "happy", "angry", "sad"]
    assert dm_state["norm"]["hsf_mean"].shape == (1582,) and dm_state["norm"]["lld_std"].shape == (76,)
    cli = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    assert (run / "metrics.csv").is_file()  # fit's curves survive the test run
    metrics = json.loads((tmp_path / "strl_ser" / "synthetic-test" / "test_metrics.json").read_text())
    for key in ("wa", "ua", "macro_precision", "weighted_precision", "macro_f1", "weighted_f1", "paper_macro_f1", "paper_weighted_f1"):
        assert 0.0 <= metrics[key] <= 1.0
    assert len(metrics["confusion_matrix"]) == 4
    assert (tmp_path / "strl_ser" / "synthetic-test" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.model.last_test_metrics["num_utterances"] > 0
    assert metrics["split"]["protocol"] == "paper" and metrics["split"]["test_is_val"] is True
    # testing with another split seed would score utterances the model trained on: refused
    with pytest.raises(ValueError, match="was trained on"):
        cli_main(["test", *args, "--data.seed=1", f"--ckpt_path={ckpt}"])
    audio = sorted((ser_cache / "synthetic").rglob("*.wav"))[:3]
    cli_main(["predict", *args, f"--ckpt_path={ckpt}", f"--data.predict_paths={json.dumps([str(a) for a in audio])}"])
    # results go to a folder named after the checkpoint (<run>-predict/<checkpoint name>)
    rows = list(csv.DictReader((tmp_path / "strl_ser" / "synthetic-predict" / "last" / "predictions.csv").open()))
    assert [r["path"] for r in rows] == [str(a) for a in audio]
    assert all(r["prediction"] in {"neutral", "happy", "angry", "sad"} for r in rows)
    assert all(abs(sum(float(r[f"p_{c}"]) for c in ("neutral", "happy", "angry", "sad")) - 1) < 1e-3 for r in rows)
    # a csv-corpus model predicts without its corpus: the class names come from the checkpoint
    cli_main(["predict", *args, "--data.corpus=csv", f"--ckpt_path={ckpt}", "--trainer.logger.init_args.version=own",
              f"--data.predict_paths={json.dumps([str(audio[0])])}"])
    # ... whatever the config's logger version; a second call gets a new folder (no overwrite)
    again = list(csv.DictReader((tmp_path / "strl_ser" / "synthetic-predict" / "last-2" / "predictions.csv").open()))
    assert not (tmp_path / "strl_ser" / "own-predict").exists()
    assert again[0] == rows[0]


@pytest.mark.slow
def test_sta_cnn_best_and_last_checkpoints_differ_in_meaning(ser_cache: Path, tmp_path: Path) -> None:
    """last.ckpt is the final epoch (not a copy of the best), best.ckpt the best on validation."""
    cli_main(["fit", *_args(ser_cache, tmp_path, "sta_cnn"), "--trainer.max_epochs=3", "--data.segment_length=1.0"])
    ckpts = tmp_path / "sta_cnn" / "synthetic" / "checkpoints"
    last = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 2
    best = torch.load(ckpts / "best.ckpt", map_location="cpu", weights_only=False)
    assert best["epoch"] <= 2
    assert not list(ckpts.glob("*-v*.ckpt"))
    # the front end's training statistics travel in the checkpoint
    assert bool(last["state_dict"]["net.frontend.fitted"])


def test_run_tag_names_protocol_fold_and_seeds() -> None:
    from jsonargparse import Namespace

    from sermodels.cli import run_tag

    assert run_tag(Namespace(protocol="paper", fold=0, seed=0, split_file=None), 0) == ""
    assert run_tag(Namespace(protocol="speaker", fold=3, seed=0, split_file=None), 0) == "-speaker-fold3"
    assert run_tag(Namespace(protocol="speaker", fold=3, num_folds=5, seed=0, split_file=None), 0) == "-speaker-fold3-k5"
    assert run_tag(Namespace(protocol="paper", fold=0, seed=2, split_file=None), 7) == "-split2-seed7"
    assert run_tag(Namespace(protocol="paper", fold=0, seed=0, split_file="splits/my.json"), True) == "-split-my"


def test_folds_and_refits_never_overwrite_other_runs(ser_cache: Path, tmp_path: Path) -> None:
    args = [*_args(ser_cache, tmp_path), "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1", "--data.protocol=speaker"]
    for fold in (0, 1, 1):  # fold 1 fitted twice: last.ckpt is replaced, no last-v1.ckpt appears
        cli_main(["fit", *args, f"--data.fold={fold}"])
    runs = tmp_path / "strl_ser"
    assert (runs / "synthetic-speaker-fold0" / "checkpoints" / "last.ckpt").is_file()
    ckpts = sorted(p.name for p in (runs / "synthetic-speaker-fold1" / "checkpoints").iterdir())
    assert ckpts == ["last.ckpt", "latest.ckpt"]
    # a run's saved config, passed back in, keeps the run's folder (the tag is not added twice)
    run = runs / "synthetic-speaker-fold1"
    cli_main(["validate", "--config", str(run / "config.yaml"), f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"])
    assert sorted(p.name for p in runs.iterdir()) == ["synthetic-speaker-fold0", "synthetic-speaker-fold1", "synthetic-speaker-fold1-validate"]


def test_wandb_logger_gets_no_fixed_run_id(tmp_path: Path) -> None:
    base = [*config_args("strl_ser", "synthetic"), "--trainer.logger=lightning.pytorch.loggers.WandbLogger", f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.logger.init_args.offline=true"]
    cli = cli_main(base, run=False)
    assert cli.config.trainer.logger.init_args.version is None  # else every sweep trial reuses one run id
    assert cli.config.trainer.logger.init_args.name == "synthetic"  # W&B display name = the run folder name
    cli = cli_main([*base, "--trainer.logger.init_args.id=abc123"], run=False)
    assert cli.config.trainer.logger.init_args.id == "abc123"


def test_net_inputs_missing_from_data_inputs_fail_before_extraction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data.inputs is \['lld'\]"):
        cli_main(["fit", *_args(tmp_path / "empty-cache", tmp_path), "--data.inputs=[lld]"])
    assert not (tmp_path / "empty-cache").exists()  # nothing was extracted (not even the synthetic corpus)


def test_lld_only_ablation_trains_without_hsfs(ser_cache: Path, tmp_path: Path) -> None:
    cli = cli_main(["fit", *_args(ser_cache, tmp_path), "--trainer.fast_dev_run=1", "--data.inputs=[lld]",
                    "--model.init_args.net.init_args.use_hsf=false"])
    assert cli.trainer.state.finished and cli.model.net.inputs == ("lld",)
