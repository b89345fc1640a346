"""What a checkpoint written by ``ser fit`` knows about its run, read without training code.

``ser fit`` stores the run's resolved ``model`` and ``data`` config in every checkpoint
(:class:`RunConfigInCheckpoint`, key :data:`CONFIG_KEY`), so a checkpoint alone rebuilds its model
(``ser predict --ckpt_path X``, ``ser-export``). Checkpoints written before that fall back to the
``config.yaml`` LightningCLI saved in the run folder (``<run>/checkpoints/x.ckpt`` ->
``<run>/config.yaml``). Everything here loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import pathlib
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
import yaml
from lightning.fabric.utilities.cloud_io import _load as lightning_load

if TYPE_CHECKING:
    from sermodels.module import SERModule

__all__ = [
    "CONFIG_KEY",
    "PREDICT_DATA_KEYS",
    "CheckpointError",
    "RunConfigInCheckpoint",
    "SAFE_GLOBALS",
    "build_model",
    "datamodule_state",
    "is_url",
    "load_checkpoint",
    "predict_data_config",
    "read_checkpoint",
    "run_config",
    "run_folder",
    "trained_data_settings",
]

#: Top-level checkpoint key holding ``{"model": ..., "data": ...}`` as plain YAML-safe values.
CONFIG_KEY = "sermodels_config"
#: Data settings that decide what a model is fed (segmentation, features, normalisation).
PREDICT_DATA_KEYS = (
    "corpus", "segment_length", "segment_hop", "min_last_segment", "segment_mode", "frame_size", "frame_shift",
    "inputs", "features", "hsf_scope", "normalize", "speaker_norm", "batch_size",
)
# Filled by the CLI's links from the data module: never taken from a stored config.
_LINK_TARGETS = ("num_classes", "class_names")





# ---------------------------------------------------------------- safe loading (weights-only)

#: Types a checkpoint of this project may hold besides tensors and plain containers: paths that the
#: Python API passes as hyperparameters (``SERDataModule(root=Path(...))``). Constructing them runs no code.
SAFE_GLOBALS: list[Any] = [pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath]
torch.serialization.add_safe_globals(SAFE_GLOBALS)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely; the message names the file and the fix."""


def is_url(path: str | Path) -> bool:
    return str(path).startswith(("http://", "https://"))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", weights_only: bool = True) -> dict[str, Any]:
    """Load a Lightning checkpoint (local path or ``http(s)://`` URL), weights-only by default.

    Args:
        path: The ``.ckpt`` file or URL.
        map_location: Where tensors go.
        weights_only: ``False`` only for a file you trust (it may then run code while loading).

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: The file is missing, is not a checkpoint, or holds objects a weights-only
            load refuses (a crafted or foreign pickle).
    """
    if not is_url(path) and not Path(path).is_file():
        raise CheckpointError(f"ckpt_path: {path} does not exist; pass the .ckpt file written by `ser fit`.")
    try:
        state = lightning_load(str(path), map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()
        raise CheckpointError(
            f"ckpt_path: refusing to load {path}: it holds Python objects that a weights-only load does not "
            f"construct ({reason[-1] if reason else err}). A checkpoint written by `ser fit` holds only tensors and "
            "plain data; this one may be crafted to run code. If you wrote it yourself and trust it, pass "
            "--weights_only false."
        ) from err
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        raise CheckpointError(f"ckpt_path: {path} is not a readable checkpoint ({type(err).__name__}: {err}).") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"ckpt_path: {path} holds a {type(state).__name__}, not a Lightning checkpoint dict.")
    return state


class RunConfigInCheckpoint(L.Callback):
    """Stores the run's resolved ``model``/``data`` config in every checkpoint ``ser fit`` writes.

    Args:
        config: ``{"model": {"class_path": ..., "init_args": ...}, "data": {...}}``, YAML-safe values only
            (so the checkpoint still loads with ``weights_only=True``).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = copy.deepcopy(config)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = copy.deepcopy(self.config)


def read_checkpoint(path: str | Path, what: str = "--ckpt_path") -> dict[str, Any]:
    """Load a Lightning checkpoint on the CPU with ``weights_only=True``.

    Raises:
        CheckpointError: Missing file, not a checkpoint, or one without a ``state_dict``.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"{what} {p}: no such file; expected a checkpoint written by `ser fit` "
            "(e.g. runs/strl_ser/ravdess/checkpoints/last.ckpt)."
        )
    ckpt = load_checkpoint(p)  # weights-only: a crafted pickle is refused with a clear error
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{what} {p}: expected a Lightning checkpoint (a dict with 'state_dict'), got something else.")
    return ckpt


def run_folder(path: str | Path) -> Path:
    """The run folder of a checkpoint: ``<run>/checkpoints/last.ckpt`` -> ``<run>``; else its folder."""
    p = Path(path)
    return p.parent.parent if p.parent.name == "checkpoints" else p.parent


def run_config(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The run's ``{"model": ..., "data": ...}`` config: stored in the checkpoint, else the run's ``config.yaml``.

    Raises:
        CheckpointError: Neither is there (then the fit configs must be passed explicitly).
    """
    stored = ckpt.get(CONFIG_KEY)
    if isinstance(stored, dict) and isinstance(stored.get("model"), dict):
        return copy.deepcopy(stored)
    saved = run_folder(path) / "config.yaml"
    if saved.is_file():
        config = yaml.safe_load(saved.read_text()) or {}
        config = config.get("fit", config)  # a top-level dump has the subcommand as its key
        if isinstance(config.get("model"), dict) and "class_path" in config["model"]:
            return {"model": config["model"], "data": config.get("data") or {}}
    raise CheckpointError(
        f"--ckpt_path {path}: the checkpoint holds no model config (written before `ser fit` stored it) and there is "
        f"no config.yaml with a model in {saved.parent}; pass the configs it was trained with, e.g. "
        "`-c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/ravdess.yaml`."
    )


def datamodule_state(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """``SERDataModule``'s checkpoint state: ``norm`` statistics, ``class_names``, ``split`` (train ids, info).

    Raises:
        CheckpointError: The checkpoint was not written with the SER data module.
    """
    state = ckpt.get("SERDataModule")
    if not isinstance(state, dict) or not state.get("class_names"):
        raise CheckpointError(
            f"--ckpt_path {path}: no SERDataModule state (class names, normalisation statistics); "
            "expected a checkpoint written by `ser fit` with its data module."
        )
    return state


def predict_data_config(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """Data settings that reproduce the model's inputs (no corpus paths, caches or splits).

    Class names come from the data module state, so the corpus is never scanned.
    """
    hparams = dict(ckpt.get("datamodule_hyper_parameters") or {})
    if not hparams:
        hparams = dict(run_config(ckpt, path).get("data") or {})
    data = {k: copy.deepcopy(hparams[k]) for k in PREDICT_DATA_KEYS if k in hparams}
    data["classes"] = list(datamodule_state(ckpt, path)["class_names"])
    return data


def model_config(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The stored ``model`` config without the values the CLI links in from the data module."""
    model = copy.deepcopy(run_config(ckpt, path)["model"])
    init = model.setdefault("init_args", {}) or {}
    model["init_args"] = init
    for key in _LINK_TARGETS:
        init.pop(key, None)
    net = init.get("net")
    if isinstance(net, dict) and isinstance(net.get("init_args"), dict):
        from sermodels.fastpredict import NET_LINK_TARGETS

        for key in NET_LINK_TARGETS:
            net["init_args"].pop(key, None)
    return model


def trained_data_settings(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The data settings of the fit, with the feature settings the data module recorded (which win)."""
    hparams = dict(ckpt.get("datamodule_hyper_parameters") or run_config(ckpt, path).get("data") or {})
    state = ckpt.get("SERDataModule") or {}
    return hparams | dict(state.get("features") or {}) | ({"inputs": state["inputs"]} if state.get("inputs") else {})


def build_model(ckpt: dict[str, Any], path: str | Path) -> SERModule:
    """Rebuild the checkpoint's LightningModule (net included) and load its weights, in eval mode.

    The class, net and their settings come from :func:`run_config`; ``num_classes``,
    ``class_names`` and the feature shapes from the data module's state and settings, as the CLI links them.
    """
    from jsonargparse import ArgumentParser

    from sermodels.module import SERModule

    names = list(datamodule_state(ckpt, path)["class_names"])
    model = model_config(ckpt, path)
    model["init_args"].update(num_classes=len(names), class_names=names)
    net = model["init_args"].get("net")
    if isinstance(net, dict) and "class_path" in net:
        from sermodels.fastpredict import net_link_values

        links = net_link_values(str(net["class_path"]), names, trained_data_settings(ckpt, path))
        net["init_args"] = dict(net.get("init_args") or {}, **links)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(SERModule, "model", fail_untyped=False, required=True)
    try:
        module = parser.instantiate_classes(parser.parse_object({"model": model})).model
    except Exception as err:  # noqa: BLE001 - jsonargparse/constructor errors: name the checkpoint
        raise CheckpointError(f"--ckpt_path {path}: could not rebuild its model from the stored config: {err}") from err
    missing, unexpected = module.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"--ckpt_path {path}: weights do not fit the rebuilt {type(module.net).__name__} "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]}); the stored config differs from the trained net."
        )
    return module.eval()
