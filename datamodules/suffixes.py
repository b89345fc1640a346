"""Which files are audio: the one list of file suffixes the whole code base uses.

* :data:`AUDIO_SUFFIXES`: what the framework reads (libsndfile through ``soundfile``). Folder
  corpora, ``data.predict_paths`` folders and the bundle loader's folders take these files.
* :data:`AUDIO_LIKE_SUFFIXES`: files that may hold speech. A loader that passes over one of them
  (e.g. an ``.mp3`` in a corpus folder) says so in a warning instead of dropping it silently, and
  a dangling link with one of these suffixes is an error (un-fetched git-annex content).

No imports: the bundle loader and the corpus loaders both use it without pulling in each other.
"""

from __future__ import annotations

__all__ = ["AUDIO_LIKE_SUFFIXES", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aiff", ".aif")
"""Suffixes (lower case) of the audio files the framework reads."""

AUDIO_LIKE_SUFFIXES: tuple[str, ...] = (*AUDIO_SUFFIXES, ".mp3", ".m4a", ".aac", ".wma", ".opus", ".webm", ".mp4")
"""Suffixes of files that may hold speech: :data:`AUDIO_SUFFIXES` plus formats to convert first."""
