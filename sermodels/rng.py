"""Random-number-generator state as plain tensors and numbers, so it fits a weights-only checkpoint.

A resumed fit restores the state every generator had when the checkpoint was written (torch CPU and
CUDA, NumPy's global generator, Python's ``random``), so dropout masks and any other draw continue
exactly as in an uninterrupted run. (Batch order does not need it: ``TensorBatches`` seeds each
epoch's permutation from the split seed and the epoch number.)
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["collect_rng_state", "restore_rng_state"]


def collect_rng_state() -> dict[str, Any]:
    """Every global generator's state, as tensors / ints / floats (no pickled NumPy objects)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": None if py_gauss is None else float(py_gauss)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set every global generator from :func:`collect_rng_state`'s output."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
