"""The feature settings a checkpoint records, and how two sets of them differ.

A checkpoint's data module state holds the settings that change what the net sees; ``test``,
``validate`` and a resumed ``fit`` refuse other values (their scores would be silently wrong),
``predict`` adopts the checkpoint's (``SERDataModule.load_state_dict``, ``SERCLI._check_checkpoint``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from datamodules.features.base import resolve_features

__all__ = ["DATAMODULE_KEY", "FEATURE_SETTINGS", "checkpoint_feature_settings", "feature_setting_mismatches"]

#: Where Lightning stores the data module's state in a checkpoint (its class name).
DATAMODULE_KEY = "SERDataModule"

#: ``data`` settings that change what a trained net sees; a checkpoint records them, and evaluating
#: it with other values is refused (predict adopts the checkpoint's). Which inputs each one concerns
#: (``()``: every input; ``features`` is compared input by input).
FEATURE_SETTINGS: dict[str, tuple[str, ...]] = {
    "segment_length": (),
    "segment_hop": (),
    "min_last_segment": (),
    "segment_mode": (),
    "frame_size": ("lld",),
    "frame_shift": ("lld",),
    "hsf_scope": ("hsf",),
    "normalize": ("lld", "hsf"),
    "speaker_norm": ("lld", "hsf"),
    # training copies enter the normalisation statistics that ``test`` recomputes from the training split
    "speed_perturb": ("lld", "hsf"),
    "features": (),
}


def checkpoint_feature_settings(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The feature settings a checkpoint was trained with (``{}`` if it records none), plus ``inputs``.

    Read from the data module's state (:meth:`SERDataModule.state_dict`), or, for checkpoints older
    than that, from the data module's saved hyperparameters. Checkpoints from before feature
    extractors were selectable record no ``features``: theirs are the defaults (``None``); those from
    before speaker normalisation record no ``speaker_norm``: it was off (likewise ``speed_perturb``: none).
    """
    state = checkpoint.get(DATAMODULE_KEY) or {}
    # Settings added later are recorded as their value before they existed (speaker normalisation: off), so a
    # checkpoint older than a switch is still refused for a run that turns the switch on.
    before = {"features": None, "speaker_norm": False, "speed_perturb": None}
    if state.get("features"):
        return before | dict(state["features"]) | {"inputs": list(state.get("inputs") or [])}
    hp = checkpoint.get("datamodule_hyper_parameters") or {}
    found = {k: hp[k] for k in FEATURE_SETTINGS if k in hp}
    return before | found | {"inputs": list(hp.get("inputs") or ["lld", "hsf"])} if found else {}


def feature_setting_mismatches(
    saved: Mapping[str, Any], current: Mapping[str, Any], inputs: Sequence[str] | None = None
) -> dict[str, tuple[Any, Any]]:
    """``{setting: (saved value, current value)}`` for every setting that differs and matters to
    ``inputs`` (the checkpoint's inputs; all settings when ``None``)."""
    out = {}
    for key, concerns in FEATURE_SETTINGS.items():
        if key not in saved or key not in current or (inputs is not None and concerns and not set(concerns) & set(inputs)):
            continue
        a, b = saved[key], current[key]
        if key == "features":  # the extractor of each input (a feature set's name or defaults resolved)
            keys = list(inputs if inputs is not None else saved.get("inputs") or ["lld", "hsf"])
            a, b = resolve_features(a, keys), resolve_features(b, keys)
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) if isinstance(a, float) and isinstance(b, (int, float)) else a == b
        if not same:
            out[key] = (a, b)
    return out
