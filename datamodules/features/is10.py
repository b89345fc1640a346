"""IS10 paralinguistic features from openSMILE: frame-level LLDs and functionals (HSFs), two extractors.

The openSMILE Python package ships ``is09-13/IS10_paraling_compat.conf`` with two framers
(``fr40``: 60 ms / 10 ms for pitch, ``fr25``: 25 ms / 10 ms for the rest). STRL-SER uses one
128 ms / 32 ms framing for all 38 LLDs, so :func:`write_lld_config` writes a copy of that config
with both framers edited (run-time options cannot change them, and editing one alone fails) and a
``cVectorConcat`` sink that returns the 38 LLDs and their 38 deltas from a single run
(bit-identical to the separate ``lld`` and ``lld_de`` levels, aligned on the frame index).

Extractors: ``is10_lld`` (``(76, frames)`` per segment, the default of input ``lld``) and
``is10_functionals`` (``(1582,)`` per segment or utterance, the default of ``hsf``); feature set ``is10``.
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
from typing import Any

import numpy as np
import opensmile
import torch

from datamodules.features.base import (
    FeatureConfig,
    FeatureError,
    FeatureExtractor,
    SegmentedAudio,
    UtteranceScoped,
    register_extractor,
)

__all__ = [
    "LLD_DIM",
    "HSF_DIM",
    "OPENSMILE_VERSION",
    "CONFIG_DIGEST",
    "FeatureError",
    "IS10Functionals",
    "IS10LLD",
    "num_frames",
    "write_lld_config",
    "extract_lld",
    "extract_lld_chunked",
    "extract_hsf",
]

LLD_DIM = 76
HSF_DIM = 1582
OPENSMILE_VERSION = opensmile.__version__
_BASE_CONFIG = Path(opensmile.__file__).parent / "core" / "config" / "is09-13" / "IS10_paraling_compat.conf"
_LLD_LEVEL = "lld_cat"
#: Digest of the shipped IS10 config both feature sets derive from (part of the cache key).
CONFIG_DIGEST = hashlib.sha1(_BASE_CONFIG.read_bytes()).hexdigest()[:12] if _BASE_CONFIG.exists() else "missing"

#: openSMILE may drop the last frame or two of a signal; more missing frames is an error.
MAX_EDGE_FRAMES = 2
#: LLDs of a long signal are computed chunk by chunk (openSMILE holds every intermediate frame of a
#: run in memory, about 3 MB per second of audio): chunks of this many frames (30 s at 32 ms) ...
LLD_CHUNK_FRAMES = 938
#: ... each run with this many frames of context on both sides (framing, deltas, smoothing, pitch) ...
LLD_CONTEXT_FRAMES = 16
#: ... and on the left at least this many (near-)voiced frames: the F0 envelope (``F0finEnv``) is an
#: exponential average over voiced frames (x0.75 per frame), whose state must converge to float32
#: precision before the chunk starts, so the chunked frames equal the single run's bit for bit ...
LLD_ENV_VOICED_FRAMES = 160
#: ... but never more left context than this (60 s): after a minute without voicing the envelope of
#: a chunked run may differ from a single run's until the next voiced frames.
LLD_MAX_CONTEXT_FRAMES = 1875
_F0_FINAL = 34  # row of F0final_sma in the (76, T) LLDs


def num_frames(num_samples: int, frame_samples: int, hop_samples: int) -> int:
    """Frames openSMILE's fixed framer yields for ``num_samples`` (at least one).

    1.4 s at 16 kHz with 128 ms / 32 ms gives 40, 2.0 s gives 59.
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


def extract_lld_chunked(
    wave: np.ndarray, config: FeatureConfig, name: str = "<array>", chunk_frames: int = LLD_CHUNK_FRAMES
) -> np.ndarray:
    """IS10 LLDs of a signal of any length with bounded memory, equal to one openSMILE run's.

    A signal longer than ``chunk_frames`` frames is processed in chunks of ``chunk_frames`` frames;
    each chunk is run with context frames on either side (see ``LLD_*`` above) that are dropped
    again. Memory is then that of one chunk plus context instead of growing with the file.

    Args:
        wave: ``(samples,)`` float32 waveform at ``config.sample_rate``.
        config: Framing (``frame_size``, ``frame_shift``).
        name: File name for error messages.
        chunk_frames: Frames per chunk.

    Returns:
        ``(76, frames)`` float32, as :func:`extract_lld` on the whole signal.
    """
    hop, frame = config.frame_hop_samples, config.frame_samples
    total = num_frames(len(wave), frame, hop)
    run = functools.partial(extract_lld, sample_rate=config.sample_rate, frame_size=config.frame_size,
                            frame_shift=config.frame_shift, name=name)
    if total <= chunk_frames + LLD_CONTEXT_FRAMES:
        return run(wave)
    parts: list[np.ndarray] = []
    voiced = np.zeros(0, dtype=bool)  # per frame computed so far: F0final_sma > 0
    for a in range(0, total, chunk_frames):
        b = min(total, a + chunk_frames)
        start = max(0, a - LLD_CONTEXT_FRAMES)
        seen = np.cumsum(voiced[::-1])  # voiced frames in [a - k - 1, a)
        if start > 0 and len(seen):
            enough = np.nonzero(seen >= LLD_ENV_VOICED_FRAMES)[0]
            back = int(enough[0]) + 1 if len(enough) else a
            start = max(0, min(start, a - min(back, LLD_MAX_CONTEXT_FRAMES)))
        stop = len(wave) if b == total else min(len(wave), (b - 1 + LLD_CONTEXT_FRAMES) * hop + frame)
        lld = run(wave[start * hop : stop])
        got = lld[:, a - start : a - start + (b - a)]
        if b < total and got.shape[1] != b - a:
            raise FeatureError(f"{name}: openSMILE returned {got.shape[1]} LLD frames for a chunk of {b - a}.")
        parts.append(got)
        voiced = np.concatenate([voiced, got[_F0_FINAL] > 0])
    return np.concatenate(parts, axis=1)


class _OpenSmileIS10:
    """What both IS10 extractors put into the cache key besides their name: the openSMILE version
    and the digest of the shipped config they derive from."""

    def cache_key(self) -> dict[str, Any]:
        return super().cache_key() | {"opensmile": OPENSMILE_VERSION, "opensmile_config": CONFIG_DIGEST}  # type: ignore[misc]


@register_extractor
class IS10LLD(_OpenSmileIS10, FeatureExtractor):
    """The 38 IS10 LLDs and their 38 deltas at ``data.frame_size`` / ``data.frame_shift`` (paper:
    128 / 32 ms): ``(76, frames)`` per segment, 40 frames for 1.4 s, 59 for 2.0 s.

    One openSMILE run over the whole utterance (zero-padded to its last segment's end), sliced per
    segment at the frame nearest each segment start, so a segment's frames match a stand-alone run on
    the same audio up to the smoothing context at its edges.
    """

    name = "is10_lld"
    kind = "frames"
    feature_set = "is10"

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__(config)
        if config.frame_size > config.segment_length:
            raise ValueError(
                f"data.segment_length ({config.segment_length} s) must hold at least one LLD frame "
                f"(data.frame_size = {config.frame_size} s)."
            )

    def cache_key(self) -> dict[str, Any]:
        return super().cache_key() | {"frame_size": self.config.frame_size, "frame_shift": self.config.frame_shift}

    def segment_shape(self) -> tuple[int, ...]:
        return (LLD_DIM, self.config.num_frames)

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        config, wave = self.config, audio.wave
        if wave.numel() < config.frame_samples:
            audio.issues.append("shorter_than_frame")
        hop, frames = config.frame_hop_samples, config.num_frames
        offsets = [round(start / hop) for start, _ in audio.bounds]
        need = (max(offsets) + frames - 1) * hop + config.frame_samples
        padded = torch.nn.functional.pad(wave, (0, max(0, need - wave.numel())))
        lld = extract_lld_chunked(padded.numpy(), config, name=audio.name, chunk_frames=LLD_CHUNK_FRAMES)
        short = max(offsets) + frames - lld.shape[1]
        if short > MAX_EDGE_FRAMES:
            raise FeatureError(
                f"{audio.name}: openSMILE returned {lld.shape[1]} LLD frames, {short} fewer than the segments need; "
                "expected at most a frame or two fewer (check frame_size/frame_shift against the audio)."
            )
        if short > 0:  # openSMILE may stop a frame early at the very end: repeat the last frame
            lld = np.pad(lld, ((0, 0), (0, short)), mode="edge")
        return np.stack([lld[:, o : o + frames] for o in offsets]).astype(np.float32)


@register_extractor
class IS10Functionals(UtteranceScoped, _OpenSmileIS10, FeatureExtractor):
    """The 1582 IS10 functionals (standard IS10 framing) of each segment, or of the whole utterance
    with ``data.hsf_scope: utterance`` (one row, shared by its segments)."""

    name = "is10_functionals"
    kind = "vector"
    feature_set = "is10"

    def segment_shape(self) -> tuple[int, ...]:
        return (HSF_DIM,)

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        rate = self.config.sample_rate
        if self.per_utterance:
            return np.stack([extract_hsf(audio.wave.numpy(), rate, name=audio.name)])
        return np.stack(
            [extract_hsf(seg.numpy(), rate, name=f"{audio.name} segment {i}") for i, seg in enumerate(audio.segments)]
        )
