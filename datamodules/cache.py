"""On-disk feature cache: one file per utterance, keyed, atomic, resumable; :meth:`FeatureCache.get_or_compute`
is the one call extraction makes per file."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from datamodules.audio import AudioError
from datamodules.features import FeatureConfig, FeatureError, check_computed, check_features, compute_features

__all__ = ["FeatureCache", "file_identity", "default_cache_dir"]

log = logging.getLogger(__name__)

#: A temporary entry untouched this long belongs to a dead writer (one file takes seconds).
STALE_TMP_SECONDS = 3600


def default_cache_dir() -> Path:
    """``$SER_CACHE`` if set, else ``$XDG_CACHE_HOME/sermodels`` (``~/.cache/sermodels``)."""
    if os.environ.get("SER_CACHE"):
        return Path(os.environ["SER_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "sermodels"


def file_identity(path: str | Path) -> str:
    """Identity of an audio file: resolved path, size and modification time (ns).

    Replacing or editing a file changes its size or mtime, so its entry is recomputed.
    """
    path = Path(path).resolve()
    st = path.stat()
    return hashlib.sha1(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()


class FeatureCache:
    """Features of one :class:`FeatureConfig`, stored under ``root/<config key>/``.

    Each entry is an ``.npz`` written to a temporary file in the same folder and renamed into
    place, so a crash or Ctrl-C never leaves a half-written entry under a real name; leftover
    temporary files older than an hour (a killed run's) are removed when the cache is opened;
    younger ones may be a concurrent job's write in progress and are left alone. An entry that fails
    to load, or whose content does not fit the config (a missing key, a wrong shape, a NaN/inf value:
    see :func:`~datamodules.features.check_features`), is reported with its path and audio file,
    removed and recomputed.

    Args:
        root: Cache root (see :func:`default_cache_dir`).
        config: The feature settings; their hash names the sub-folder.
        folder: The sub-folder, when the caller knows it (worker processes: skips hashing the settings,
            e.g. a frozen encoder's weights, and the stale-file scan).
    """

    def __init__(self, root: str | Path, config: FeatureConfig, folder: str | Path | None = None) -> None:
        self.config = config
        if folder is not None:
            self.dir = Path(folder)
            return
        self.dir = Path(root).expanduser() / f"features-{config.key()}"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config.txt").write_text(repr(config) + "\n")
        # Temporary files of killed runs. Only old ones: a concurrent job's live write is young.
        cutoff = time.time() - STALE_TMP_SECONDS
        for stale in self.dir.glob("*/.tmp-*"):
            try:
                if stale.stat().st_mtime < cutoff:
                    stale.unlink(missing_ok=True)
            except FileNotFoundError:
                pass  # renamed into place or removed by its writer meanwhile

    def path_for(self, audio_path: str | Path) -> Path:
        key = file_identity(audio_path)
        return self.dir / key[:2] / f"{key}.npz"

    def has(self, audio_path: str | Path) -> bool:
        """An entry exists for the file's current version (not yet checked: :meth:`load` does that)."""
        try:
            return self.path_for(audio_path).exists()
        except OSError:
            return False  # a missing audio file: get_or_compute reports it

    def get_or_compute(self, audio_path: str | Path) -> tuple[dict[str, np.ndarray], bool]:
        """The file's features from the cache, or computed (:func:`compute_features`), checked and stored.

        Returns:
            The features and whether they were computed (False: read from the cache).

        Raises:
            AudioError, FeatureError: The file cannot be read or featurised (named); features that
                would not pass :meth:`load` are never stored.
        """
        features = self.load(audio_path) if self.has(audio_path) else None
        if features is not None:
            return features, False
        try:
            features = compute_features(audio_path, self.config)
        except (AudioError, FeatureError):
            raise  # these name the file already
        except Exception as err:  # anything else (openSMILE, resampler, memory): name the file too
            raise FeatureError(f"{audio_path}: feature extraction failed with {type(err).__name__}: {err}") from err
        self.store(audio_path, check_computed(audio_path, features, self.config))
        return features, True

    def load(self, audio_path: str | Path) -> dict[str, np.ndarray] | None:
        """Return the cached features of ``audio_path``, or ``None`` on a miss or a bad entry.

        A bad entry (unreadable, missing a key, a shape that does not fit the config, NaN/inf) is
        removed with a warning naming it and its audio file, so the caller recomputes it.
        """
        entry = self.path_for(audio_path)
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                features = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            self._drop(entry, audio_path, f"unreadable ({type(err).__name__}: {err})")
            return None
        problems = check_features(features, self.config)
        if problems:
            self._drop(entry, audio_path, "; ".join(problems))
            return None
        return features

    @staticmethod
    def _drop(entry: Path, audio_path: str | Path, why: str) -> None:
        warnings.warn(f"Bad feature-cache entry {entry} (audio {audio_path}): {why}. Removed; recomputing it.", stacklevel=3)
        entry.unlink(missing_ok=True)

    def store(self, audio_path: str | Path, features: dict[str, np.ndarray]) -> Path:
        """Write ``features`` for ``audio_path`` atomically and return the entry's path."""
        entry = self.path_for(audio_path)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=entry.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                # numpy's stub types **kwds as if a key could be its `allow_pickle: bool` (none is: feature names).
                np.savez(fh, **features)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return entry
