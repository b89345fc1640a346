"""The config option groups: every model x corpus composition resolves to the settings the papers and the study use.

configs/trainer.yaml (shared) + configs/model/<model>.yaml + configs/data/<corpus>.yaml, plus
configs/experiment/<model>_<corpus>.yaml only where the pair needs its own values. The tables below are
the resolved values of the former per-model-per-corpus files (configs/<model>/{base,<corpus>}.yaml),
checked equal to them key by key when the files were regrouped (the only differences: the module
class is SERModule for every net, and the baseline inherits trainer.log_every_n_steps 10).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamodules.datamodule import SERDataModule
from sermodels.cli import SERCLI
from sermodels.module import SERModule
from tests.compose import CONFIGS, CORPORA, MODELS, config_files

_CKPT = "lightning.pytorch.callbacks.ModelCheckpoint"
_LR = "lightning.pytorch.callbacks.LearningRateMonitor"
_LAST = {"class_path": _CKPT, "save_last": True, "save_top_k": 1, "filename": "latest", "monitor": None,
         "enable_version_counter": False}

#: Shared by every model (configs/trainer.yaml).
TRAINER = {
    "seed_everything": 0,
    "trainer.accelerator": "auto",
    "trainer.devices": 1,
    "trainer.num_sanity_val_steps": 0,
    "trainer.log_every_n_steps": 10,
    "trainer.logger.class_path": "lightning.pytorch.loggers.CSVLogger",
    "trainer.logger.init_args.save_dir": "runs",
}

#: Per model (configs/model/<model>.yaml), on every corpus.
MODEL: dict[str, dict[str, Any]] = {
    "strl_ser": {
        "trainer.max_epochs": 150,
        "trainer.logger.init_args.name": "strl_ser",
        "callbacks": [_LAST, {"class_path": _LR, "logging_interval": "epoch"}],
        "model.class_path": "sermodels.module.SERModule",
        "model.init_args.net.class_path": "sermodels.strl_ser.STRLSER",
        "model.init_args.net.init_args.freq_kernel": 7,
        "model.init_args.net.init_args.time_kernel": 3,
        "model.init_args.net.init_args.num_heads": 8,
        "model.init_args.net.init_args.temporal_encoder": "bilstm",
        "model.init_args.net.init_args.temporal_pooling": "attention",
        "model.init_args.net.init_args.use_hsf": True,
        "model.init_args.net.init_args.fusion_tokens": "branches",
        "model.init_args.optimizer.class_path": "torch.optim.Adam",
        "model.init_args.optimizer.init_args.lr": 0.001,
        "model.init_args.optimizer.init_args.weight_decay": 0.0,
        "model.init_args.scheduler.class_path": "torch.optim.lr_scheduler.ExponentialLR",
        "model.init_args.scheduler.init_args.gamma": 0.95,
        "model.init_args.aggregation": "mean",
        "data.protocol": "paper",
        "data.ratios": [0.8, 0.2],
        "data.seed": 0,
        "data.segment_length": 1.4,
        "data.segment_mode": "segments",
        "data.frame_size": 0.128,
        "data.frame_shift": 0.032,
        "data.inputs": ["lld", "hsf"],
        "data.hsf_scope": "utterance",
        "data.batch_size": 128,
    },
    "sta_cnn": {
        "trainer.max_epochs": 150,
        "trainer.logger.init_args.name": "sta_cnn",
        "callbacks": [
            {"class_path": _CKPT, "monitor": "val/wa", "mode": "max", "save_top_k": 1, "filename": "best",
             "save_last": None, "enable_version_counter": False},
            _LAST,
            {"class_path": _LR, "logging_interval": "epoch"},
        ],
        "model.class_path": "sermodels.module.SERModule",
        "model.init_args.net.class_path": "sermodels.sta_cnn.STACNN",
        "model.init_args.net.init_args.conv_type": "1d",
        "model.init_args.optimizer.class_path": "torch.optim.Adam",
        "model.init_args.optimizer.init_args.lr": 0.0001,
        "model.init_args.optimizer.init_args.weight_decay": 0.001,
        "model.init_args.scheduler": None,
        "model.init_args.aggregation": "mean",
        "data.protocol": "paper",
        "data.ratios": [0.6, 0.2, 0.2],
        "data.seed": 0,
        "data.inputs": ["wave"],
        "data.segment_mode": "segments",
        "data.segment_length": 2.0,
        "data.batch_size": 32,
    },
    "baseline": {
        "trainer.max_epochs": 1,
        "trainer.logger.init_args.name": "baseline",
        "callbacks": [_LAST],
        "model.class_path": "sermodels.baseline.LinearBaselineModule",
        "model.init_args.net.class_path": "sermodels.linear.LinearClassifier",
        "model.init_args.classifier": "svc",
        "model.init_args.C": 0.01,
        "model.init_args.aggregation": "mean",
        "data.protocol": "paper",
        "data.ratios": [0.8, 0.2],
        "data.seed": 0,
        "data.inputs": ["hsf"],
        "data.hsf_scope": "utterance",
        "data.segment_mode": "crop",
        "data.segment_length": 1.4,
        "data.batch_size": 1024,
    },
}

#: The only model x corpus pairs with values of their own (configs/experiment/<model>_<corpus>.yaml).
EXPERIMENT: dict[tuple[str, str], dict[str, Any]] = {
    # The STRL-SER paper's IEMOCAP settings (its RAVDESS ones are the model file's).
    ("strl_ser", "iemocap"): {"model.init_args.net.init_args.time_kernel": 5, "data.segment_length": 2.0},
    # The demos (`make demo`, `make demo-sta-cnn`): short schedules for 2 CPU cores.
    ("strl_ser", "synthetic"): {"trainer.max_epochs": 15, "data.batch_size": 32},
    ("sta_cnn", "synthetic"): {"trainer.max_epochs": 10, "model.init_args.optimizer.init_args.lr": 0.001},
}

#: The study's best configuration per model (configs/recipes/<model>.yaml, opt-in, composed last): exactly these
#: values change, nothing else (docs/reproduction.md chose each on validation data).
RECIPES: dict[str, dict[str, Any]] = {
    "strl_ser": {"model.init_args.label_smoothing": 0.1, "model.init_args.mixup_alpha": 0.2,
                 "model.init_args.net.init_args.hsf_dropout": 0.2, "data.speed_perturb": [0.9, 1.1]},
    "sta_cnn": {"model.init_args.label_smoothing": 0.1, "model.init_args.mixup_alpha": 0.2, "data.speed_perturb": [0.9, 1.1],
                "data.segment_hop": 1.0},
}


class _ParseOnly(SERCLI):
    """The CLI up to the resolved config (run folder name included), building nothing."""

    def instantiate_classes(self) -> None:
        pass


def resolve(files: list[Path], *extra: str) -> dict[str, Any]:
    """The resolved config of ``ser fit -c <files> <extra>`` as plain data (what config.yaml would hold)."""
    cli = _ParseOnly(SERModule, SERDataModule, subclass_mode_model=True, run=False,
                     args=[*(a for f in files for a in ("--config", str(f))), *extra])
    config = cli.config.as_dict()
    config.pop("config", None)  # the file names themselves
    return config


def import_object(class_path: str) -> Any:
    """``"sermodels.module.SERModule"`` -> the class."""
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _get(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node


def _callbacks(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"class_path": cb["class_path"], **(cb.get("init_args") or {})} for cb in config["trainer"]["callbacks"]]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("model", sorted(MODEL))
def test_composition_resolves_to_the_papers_settings(model: str, corpus: str) -> None:
    config = resolve(config_files(model, corpus))
    expected = {**TRAINER, **MODEL[model], **EXPERIMENT.get((model, corpus), {}), "data.corpus": corpus,
                "trainer.logger.init_args.version": corpus}  # the run folder: runs/<model>/<corpus>
    wanted_callbacks = expected.pop("callbacks")
    got = {key: _get(config, key) for key in expected}
    assert got == expected
    callbacks = _callbacks(config)
    assert [cb["class_path"] for cb in callbacks] == [cb["class_path"] for cb in wanted_callbacks]
    for cb, wanted in zip(callbacks, wanted_callbacks, strict=True):
        assert {k: cb.get(k) for k in wanted} == wanted


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_composes_with_every_corpus(model: str, corpus: str) -> None:
    """Any model file (the papers' and new ones) with any corpus file: a SERModule, a net that says
    which batch keys it reads, and the run folder runs/<model file's name>/<corpus>."""
    config = resolve(config_files(model, corpus))
    assert issubclass(import_object(config["model"]["class_path"]), SERModule)
    assert getattr(import_object(config["model"]["init_args"]["net"]["class_path"]), "inputs", None)
    assert config["data"]["corpus"] == corpus and config["trainer"]["logger"]["init_args"]["version"] == corpus
    assert any(cb["class_path"].endswith("ModelCheckpoint") for cb in config["trainer"]["callbacks"])


def test_config_files_keep_to_their_group() -> None:
    """A corpus file names its corpus and nothing model-specific; an experiment file belongs to one
    model x corpus pair and touches no corpus; the papers' models' pairs are the table's."""
    for path in (CONFIGS / "data").glob("*.yaml"):
        assert yaml.safe_load(path.read_text()) == {"data": {"corpus": path.stem}}, path
    pairs = [tuple(p.stem.rsplit("_", 1)) for p in (CONFIGS / "experiment").glob("*.yaml")]
    assert all(m in MODELS and c in CORPORA for m, c in pairs), pairs
    assert sorted(p for p in pairs if p[0] in MODEL) == sorted(EXPERIMENT)
    for path in (CONFIGS / "experiment").glob("*.yaml"):
        assert "corpus" not in (yaml.safe_load(path.read_text()).get("data") or {}), path


def test_run_folder_version_follows_the_corpus_unless_given() -> None:
    files = config_files("strl_ser", "ravdess")
    assert _get(resolve(files, "--data.corpus=csv"), "trainer.logger.init_args.version") == "csv"
    assert _get(resolve(files, "--trainer.logger.init_args.version=mine"), "trainer.logger.init_args.version") == "mine"
    tagged = resolve(files, "--data.protocol=speaker", "--data.fold=3")
    assert _get(tagged, "trainer.logger.init_args.version") == "ravdess-speaker-fold3"


@pytest.mark.parametrize(("old_class", "model"), [("STRLSERModule", "strl_ser"), ("STACNNModule", "sta_cnn")])
def test_old_runs_config_yaml_still_loads(old_class: str, model: str, tmp_path: Path) -> None:
    """Runs written before the regrouping saved config.yaml with the former module classes."""
    from sermodels.cli import cli_main
    from tests.conftest import TINY_SYNTHETIC

    config = resolve(config_files(model, "ravdess"))
    config["model"]["class_path"] = f"sermodels.module.{old_class}"
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(config))
    cli = cli_main(["--config", str(saved), "--data.corpus=synthetic", "--data.root=null", f"--data.cache_dir={tmp_path}",
                    f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}"], run=False)
    assert isinstance(cli.model, SERModule) and type(cli.model.net).__name__ == {"strl_ser": "STRLSER", "sta_cnn": "STACNN"}[model]
    optimizer = cli.model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    assert optimizer.defaults["lr"] == config["model"]["init_args"]["optimizer"]["init_args"]["lr"]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    return {k: v for key, value in node.items() for k, v in _flatten(value, f"{prefix}{key}.").items()} or {prefix: {}}


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("model", sorted(RECIPES))
def test_a_recipe_changes_its_values_and_nothing_else(model: str, corpus: str) -> None:
    """configs/recipes/<model>.yaml composed after model + corpus (+ experiment): the resolved config is the
    plain one with exactly the recipe's values changed (the paper's settings, the corpus's and the
    experiment file's all kept)."""
    files = config_files(model, corpus)
    plain = _flatten(resolve(files))
    with_recipe = _flatten(resolve([*files, CONFIGS / "recipes" / f"{model}.yaml"]))
    changed = {k for k in plain.keys() | with_recipe.keys() if plain.get(k) != with_recipe.get(k)}
    assert {k.rstrip(".") for k in changed} == set(RECIPES[model])
    assert {key: _get(resolve([*files, CONFIGS / "recipes" / f"{model}.yaml"]), key) for key in RECIPES[model]} == RECIPES[model]


def test_recipe_files_belong_to_a_model_and_touch_no_corpus() -> None:
    """One recipe per model in the table, named for its model file; none names a corpus, a data root or a
    trainer setting (the schedule stays the paper's)."""
    paths = sorted((CONFIGS / "recipes").glob("*.yaml"))
    assert sorted(p.stem for p in paths) == sorted(RECIPES) and all(p.stem in MODELS for p in paths)
    for path in paths:
        config = yaml.safe_load(path.read_text())
        assert set(config) <= {"model", "data"}, path
        assert not {"corpus", "root", "pack"} & set(config.get("data") or {}), path


def test_a_recipe_for_another_model_is_refused_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        resolve([*config_files("sta_cnn", "emodb"), CONFIGS / "recipes" / "strl_ser.yaml"])
    assert "hsf_dropout" in capsys.readouterr().err
