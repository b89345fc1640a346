"""Reading checkpoints safely: weights-only unpickling everywhere, with what the project needs allow-listed.

``torch.load(weights_only=False)`` runs whatever a pickle says, so a crafted ``.ckpt`` (local or behind
an ``http(s)://`` URL, for which Lightning defaults to ``weights_only=False``) can execute code. Every
checkpoint this project reads goes through :func:`load_checkpoint` (weights-only), and ``ser`` passes
``weights_only=True`` to Lightning unless ``--weights_only false`` is given explicitly for a trusted file.
"""

from __future__ import annotations

import pathlib
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _load as lightning_load

__all__ = ["SAFE_GLOBALS", "CheckpointError", "load_checkpoint", "is_url"]

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
