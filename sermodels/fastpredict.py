"""``ser predict --ckpt_path X`` without Lightning: the checkpoint's net, run on the framework's features.

LightningCLI needs about 5 s just to import on a small CPU. For the everyday call, a checkpoint and
some audio (``--data.predict_paths``, ``--output``, ``--timeline``, ``--overwrite``), the launcher uses
:class:`CheckpointPredictor` instead: it reads the checkpoint weights-only with torch, rebuilds the net
from the config ``ser fit`` stored in it, and predicts exactly as the bundle loader does (the
framework's :func:`~datamodules.features.compute_features`, the training normalisation, the one
segment -> utterance aggregation), so results equal the Lightning path's (tested). Checkpoints
without a stored config (written before it was stored), and any other option, take the Lightning path.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.features import feature_config_from_hparams, net_dims
from sermodels.bundle import Bundle

__all__ = ["CheckpointPredictor", "FastPathUnavailable", "NET_LINK_TARGETS", "net_link_values"]

CONFIG_KEY = "sermodels_config"  # sermodels.checkpoint.CONFIG_KEY (that module imports Lightning)
_DATAMODULE_KEY = "SERDataModule"
_SAFE: list[Any] = [pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath]
#: The net arguments the CLI links from the data module's properties of the same name (a net without
#: one is skipped): the class count and the feature shapes, which come from the extractors, never from YAML.
#: (STRL-SER's ``num_frames`` is informational and stays unlinked, so a too-short segment gets the
#: CLI's friendly error instead of the net's own.)
NET_LINK_TARGETS = ("num_classes", "lld_dim", "hsf_dim")


class FastPathUnavailable(Exception):
    """This checkpoint cannot be predicted without Lightning (the launcher falls back to it)."""


def _import(class_path: str) -> Any:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _instantiate(value: Any) -> Any:
    """A config value with every nested ``{"class_path": ..., "init_args": {...}}`` built (as jsonargparse does),
    e.g. STA-CNN's ``frontend`` when the run set it explicitly."""
    if isinstance(value, dict) and "class_path" in value:
        args = {k: _instantiate(v) for k, v in (value.get("init_args") or {}).items()}
        return _import(str(value["class_path"]))(**args)
    return value


def net_link_values(class_path: str, names: list[str], data: dict[str, Any]) -> dict[str, Any]:
    """What the CLI links into a net of ``class_path`` (those of its arguments it has): the class count
    and the feature shapes of the data settings ``data`` (``lld_dim``, ``hsf_dim``)."""
    values: dict[str, Any] = {"num_classes": len(names)}
    try:
        module, _, name = class_path.rpartition(".")
        params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return values  # the rebuild below names the class that cannot be built
    if {"lld_dim", "hsf_dim"} & set(params):
        values |= {k: v for k, v in net_dims(data).items() if k in NET_LINK_TARGETS}
    return {k: v for k, v in values.items() if k in params}


class CheckpointPredictor(Bundle):
    """A checkpoint, loaded for prediction with torch alone (the :class:`Bundle` interface).

    Args:
        ckpt_path: A ``.ckpt`` written by ``ser fit`` (local file).
        batch_size: Segments per forward pass.

    Raises:
        FastPathUnavailable: No stored run config, an unreadable file, or a net that cannot be built.
    """

    def __init__(self, ckpt_path: str | Path, batch_size: int = 64) -> None:  # noqa: D107 - no Bundle.__init__
        path = Path(ckpt_path)
        if not path.is_file():
            raise FastPathUnavailable(f"{path}: no such file")
        try:
            with torch.serialization.safe_globals(_SAFE):
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - the Lightning path reports it properly
            raise FastPathUnavailable(f"{path}: {err}") from err
        config = state.get(CONFIG_KEY) if isinstance(state, dict) else None
        dm = state.get(_DATAMODULE_KEY) if isinstance(state, dict) else None
        if not config or not dm or not dm.get("class_names"):
            raise FastPathUnavailable(f"{path}: holds no run config (written before checkpoints stored it)")
        model = config.get("model") or {}
        init = dict(model.get("init_args") or {})
        net_cfg = init.get("net") or {}
        data = dict(config.get("data") or {})
        data.update(dm.get("features") or {})  # the settings the checkpoint was trained with
        if data.get("speaker_norm"):  # statistics over the call's files: the Lightning path does that
            raise FastPathUnavailable(f"{path}: trained with data.speaker_norm (the files of a call are normalised together)")
        inputs = list(dm.get("inputs") or data.get("inputs") or ["lld", "hsf"])
        self.class_names = list(dm["class_names"])
        self.aggregation = str(init.get("aggregation") or "mean")
        try:
            links = net_link_values(str(net_cfg["class_path"]), self.class_names, {**data, "inputs": inputs})
            net_args = {k: _instantiate(v) for k, v in (net_cfg.get("init_args") or {}).items()}
            self.net = _import(net_cfg["class_path"])(**{**net_args, **links})
            weights = {k[len("net."):]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
            self.net.load_state_dict(weights)
        except Exception as err:  # noqa: BLE001
            raise FastPathUnavailable(f"{path}: cannot rebuild the net ({err})") from err
        self.net.eval()
        self.input_names = list(self.net.inputs)
        self.features, _ = feature_config_from_hparams({**data, "inputs": inputs})
        self.norm = {k: v.numpy().astype(np.float32) for k, v in (dm.get("norm") or {}).items()}
        self.normalize = bool(data.get("normalize", True))
        self.batch_size = batch_size
        self.ckpt_path = path
        self.meta = {"model_name": f"{type(self.net).__name__} ({path.name})"}

    @property
    def model_name(self) -> str:
        return str(self.meta["model_name"])

    @torch.no_grad()
    def segment_probs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Softmax of the net's logits, ``(S, C)``, in batches of ``batch_size`` segments."""
        count = len(next(iter(inputs.values())))
        chunks = []
        for i in range(0, count, self.batch_size):
            batch = [torch.from_numpy(inputs[k][i : i + self.batch_size]) for k in self.input_names]
            chunks.append(self.net(*batch).float().softmax(dim=-1).double().numpy())
        return np.concatenate(chunks)
