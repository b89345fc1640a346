"""The predict path: the audio files of one ``predict`` run, featurised once, as batches for the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

from datamodules.batches import stack_segments
from datamodules.extract import ExtractionError, format_errors
from datamodules.suffixes import AUDIO_LIKE_SUFFIXES, AUDIO_SUFFIXES

__all__ = ["PredictSet", "find_audio_files"]

#: ``extract(files) -> (per-file features or None, stats with "errors")`` (the data module's extraction).
Extract = Callable[[list[Path]], tuple[list[dict[str, np.ndarray] | None], dict[str, Any]]]


def find_audio_files(paths: Sequence[str | Path] | None) -> list[Path]:
    """Files and folders (searched recursively) -> audio files, in order; other audio types
    (``.mp3``, ...) in the folders are counted in one warning.

    Raises:
        ValueError: No paths, a path that does not exist, or a folder without audio (``data.predict_paths``).
    """
    if not paths:
        raise ValueError("predict needs audio: pass --data.predict_paths '[file.wav, folder/]'.")
    files: list[Path] = []
    skipped: Counter[str] = Counter()
    for p in map(Path, paths):
        if p.is_dir():
            found = []
            for f in sorted(p.rglob("*")):
                if f.name.startswith("."):
                    continue
                if f.suffix.lower() in AUDIO_SUFFIXES and (f.is_file() or f.is_symlink()):
                    found.append(f)  # a dangling link stays: its row says why it has no prediction
                elif f.is_file() and f.suffix.lower() in AUDIO_LIKE_SUFFIXES:
                    skipped[f.suffix.lower()] += 1  # audio of a type libsndfile may not read
            if not found:
                raise ValueError(f"data.predict_paths: folder {p} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file() or p.is_symlink():
            files.append(p)
        else:
            raise ValueError(f"data.predict_paths: {p} is neither an audio file nor a folder.")
    if skipped:
        rank_zero_warn(
            f"data.predict_paths: skipped {sum(skipped.values())} files that are not {'/'.join(AUDIO_SUFFIXES)} "
            f"({', '.join(f'{k} {n}' for k, n in skipped.most_common())}); convert them (e.g. "
            "`ffmpeg -i x.mp3 x.wav`) to predict them."
        )
    return files


class PredictSet:
    """The files of one predict run; :meth:`tensors` featurises them (once) for the model.

    Attributes:
        files: The audio files, in order (a file listed twice is predicted twice).
        errors: ``{file index: why}`` for files that could not be featurised (no prediction; listed).
        segments: Per file its segments' sample bounds and length (``None`` for a failed file): timeline times.

    Args:
        paths: ``data.predict_paths`` (files and folders).
    """

    def __init__(self, paths: Sequence[str | Path] | None) -> None:
        self.files = find_audio_files(paths)
        self.errors: dict[int, str] = {}
        self.segments: list[tuple[np.ndarray, int] | None] = []
        self._tensors: dict[str, torch.Tensor] | None = None

    def tensors(self, extract: Extract, keys: Sequence[str]) -> dict[str, torch.Tensor]:
        """The inputs ``keys`` of every usable file's segments (unnormalised), extracted on the first call.

        Raises:
            ExtractionError: No file could be featurised (every one listed with its reason).
        """
        if self._tensors is None:
            features, stats = extract(self.files)
            errors = dict(stats["errors"])
            index = {str(f): i for i, f in enumerate(self.files)}
            self.errors = {index[p]: msg for p, msg in errors.items() if p in index}
            if len(self.errors) == len(self.files):
                raise ExtractionError(format_errors(errors, len(self.files)) + "\nNothing left to predict.", errors)
            self.segments = [(np.asarray(f["bounds"]), int(f["num_samples"])) if f is not None else None for f in features]
            good = [i for i, f in enumerate(features) if f is not None]
            self._tensors = stack_segments([features[i] for i in good], keys, good, [-1] * len(good))  # type: ignore[misc]
        return self._tensors
