"""IS10 paralinguistic features from openSMILE: frame-level LLDs and utterance-level HSFs.

The openSMILE Python package ships ``is09-13/IS10_paraling_compat.conf`` with two framers
(``fr40``: 60 ms / 10 ms for pitch, ``fr25``: 25 ms / 10 ms for the rest). STRL-SER uses one
128 ms / 32 ms framing for all 38 LLDs, so :func:`write_lld_config` writes a copy of that config
with both framers edited (run-time options cannot change them, and editing one alone fails) and a
``cVectorConcat`` sink that returns the 38 LLDs and their 38 deltas from a single run
(bit-identical to the separate ``lld`` and ``lld_de`` levels, aligned on the frame index).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import opensmile

__all__ = [
    "LLD_DIM",
    "HSF_DIM",
    "OPENSMILE_VERSION",
    "CONFIG_DIGEST",
    "FeatureError",
    "num_frames",
    "write_lld_config",
    "extract_lld",
    "extract_hsf",
]

LLD_DIM = 76
HSF_DIM = 1582
OPENSMILE_VERSION = opensmile.__version__
_BASE_CONFIG = Path(opensmile.__file__).parent / "core" / "config" / "is09-13" / "IS10_paraling_compat.conf"
_LLD_LEVEL = "lld_cat"
#: Digest of the shipped IS10 config both feature sets derive from (part of the cache key).
CONFIG_DIGEST = hashlib.sha1(_BASE_CONFIG.read_bytes()).hexdigest()[:12] if _BASE_CONFIG.exists() else "missing"


class FeatureError(ValueError):
    """Raised when features cannot be computed or come out non-finite; names the file."""


def num_frames(num_samples: int, frame_samples: int, hop_samples: int) -> int:
    """Frames openSMILE's fixed framer yields for ``num_samples`` (at least one).

    1.4 s at 16 kHz with 128 ms / 32 ms gives 40, 2.0 s gives 59 (PAPERS.md).
    """
    if num_samples < frame_samples:
        return 1
    return (num_samples - frame_samples) // hop_samples + 1


def write_lld_config(frame_size: float = 0.128, frame_shift: float = 0.032, directory: str | Path | None = None) -> Path:
    """Write (once) the edited IS10 config for the given framing and return its path.

    Args:
        frame_size: Window length in seconds for both framers.
        frame_shift: Hop in seconds for both framers.
        directory: Where to write; defaults to a private per-user temp folder (mode 0700, owned
            by this user, else refused). The file name carries a hash of the content, so
            concurrent writers and different framings never clash.

    Returns:
        Path of the config file, whose content has been checked: an existing file that differs
        from what this function writes (edited, truncated, planted) is replaced, with a warning.
    """
    if not (0 < frame_shift <= frame_size):
        raise ValueError(f"Expected 0 < frame_shift <= frame_size, got frame_shift={frame_shift}, frame_size={frame_size}.")
    text = _BASE_CONFIG.read_text()
    edited, n40 = re.subn(
        r"(\[fr40:cFramer\][^\[]*?)frameSize = 0\.060\s*\nframeStep = 0\.010",
        rf"\g<1>frameSize = {frame_size:.6f}\nframeStep = {frame_shift:.6f}",
        text,
    )
    edited, n25 = re.subn(
        r"(\[fr25:cFramer\][^\[]*?)frameSize = 0\.025\s*\nframeStep = 0\.010",
        rf"\g<1>frameSize = {frame_size:.6f}\nframeStep = {frame_shift:.6f}",
        edited,
    )
    if (n40, n25) != (1, 1):
        raise RuntimeError(
            f"openSMILE {OPENSMILE_VERSION}: could not find both framers in {_BASE_CONFIG}; "
            "the shipped IS10 config changed. Pin opensmile==2.6.* or update write_lld_config."
        )
    edited = edited.replace(
        "instance[delta2].type=cDeltaRegression",
        "instance[delta2].type=cDeltaRegression\ninstance[lldcat].type=cVectorConcat",
    )
    edited += f"\n[lldcat:cVectorConcat]\nreader.dmLevel = lld;lld_de\nwriter.dmLevel = {_LLD_LEVEL}\nincludeSingleElementFields = 1\n"
    digest = hashlib.sha1(edited.encode()).hexdigest()[:12]
    if directory:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
    else:
        directory = _private_dir(Path(tempfile.gettempdir()) / f"sermodels-opensmile-{_uid()}")
    path = directory / f"IS10_paraling_compat_{digest}.conf"
    try:
        current = path.read_text() if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        current = ""
    if current != edited:
        if current is not None:
            warnings.warn(
                f"{path}: the openSMILE config differs from the one this version writes (edited or planted); "
                "replacing it.",
                stacklevel=2,
            )
        tmp = path.with_suffix(f".tmp-{os.getpid()}-{uuid.uuid4().hex}")
        tmp.write_text(edited)
        tmp.replace(path)
    return path


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")


def _private_dir(directory: Path) -> Path:
    """A temp folder only this user can write (others could plant a config openSMILE runs)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid"):
        st = directory.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise RuntimeError(
                f"{directory} belongs to another user or is writable by others, so an openSMILE config there "
                "could be replaced: remove it, or set TMPDIR to a private folder."
            )
    return directory


@functools.lru_cache(maxsize=8)
def _lld_smile(frame_size: float, frame_shift: float) -> opensmile.Smile:
    return opensmile.Smile(feature_set=str(write_lld_config(frame_size, frame_shift)), feature_level=_LLD_LEVEL)


@functools.lru_cache(maxsize=1)
def _hsf_smile() -> opensmile.Smile:
    return opensmile.Smile(feature_set=opensmile.FeatureSet.IS10, feature_level=opensmile.FeatureLevel.Functionals)


def _check_finite(values: np.ndarray, what: str, name: str) -> np.ndarray:
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise FeatureError(
            f"{name}: openSMILE returned {bad} NaN/inf values for the {what} (audio too short for the "
            "framing, or degenerate). Check the file, or raise segment_length / lower frame_size."
        )
    return values


def extract_lld(
    wave: np.ndarray,
    sample_rate: int = 16000,
    frame_size: float = 0.128,
    frame_shift: float = 0.032,
    name: str = "<array>",
) -> np.ndarray:
    """IS10 LLDs and deltas of one signal, one openSMILE run.

    Args:
        wave: ``(samples,)`` float waveform in [-1, 1].
        sample_rate: Its rate in Hz.
        frame_size: Window in seconds (paper: 0.128).
        frame_shift: Hop in seconds (paper: 0.032).
        name: File name for error messages.

    Returns:
        ``(76, frames)`` float32: 38 LLDs then their 38 deltas.
    """
    values = _lld_smile(frame_size, frame_shift).process_signal(np.asarray(wave, dtype=np.float32), sample_rate).to_numpy()
    if values.ndim != 2 or values.shape[1] != LLD_DIM or values.shape[0] == 0:
        raise FeatureError(f"{name}: expected (frames, {LLD_DIM}) LLDs from openSMILE, got {values.shape}.")
    return _check_finite(values.T.astype(np.float32), "LLDs", name)


def extract_hsf(wave: np.ndarray, sample_rate: int = 16000, name: str = "<array>") -> np.ndarray:
    """The 1582 IS10 functionals (standard IS10 framing) of one signal.

    Returns:
        ``(1582,)`` float32.
    """
    values = _hsf_smile().process_signal(np.asarray(wave, dtype=np.float32), sample_rate).to_numpy()
    if values.shape != (1, HSF_DIM):
        raise FeatureError(f"{name}: expected (1, {HSF_DIM}) functionals from openSMILE, got {values.shape}.")
    return _check_finite(values[0].astype(np.float32), "HSFs", name)
