"""RAVDESS speech (Livingstone and Russo, 2018): 24 actors, 8 classes, downloadable.

Classes (emotion codes 01-08 in order): neutral, calm, happy, sad, angry, fearful, disgust,
surprised. Standard folds: six groups of four actors (1-4, 5-8, ..., 21-24).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from datamodules.corpora.base import (
    Corpus,
    CorpusError,
    PathLike,
    Utterance,
    chunk,
    list_files,
    relative_id,
    resolve_root,
    sort_utterances,
    subdirs,
    warn_count,
    warn_skipped,
)
from datamodules.corpora.registry import register_corpus
from datamodules.download import RAVDESS_SPEECH_URL, download_ravdess

__all__ = ["RAVDESS_CLASSES", "load_ravdess"]

RAVDESS_CLASSES: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


_RAVDESS_FULL_COUNT = 1440
_RAVDESS_ACTORS = 24
_RAVDESS_GROUP_SIZE = 4
_RAVDESS_ARCHIVE_FOLDER = "Audio_Speech_Actors_01-24"
_RAVDESS_ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def _ravdess_data_dir(root: Path) -> Path | None:
    for candidate in (root, root / _RAVDESS_ARCHIVE_FOLDER):
        if candidate.is_dir() and any(_RAVDESS_ACTOR_DIR.match(p.name) for p in subdirs(candidate)):
            return candidate
    return None


def load_ravdess(
    root: PathLike,
    download: bool = False,
    url: str = RAVDESS_SPEECH_URL,
    archive: PathLike | None = None,
    md5: str | None = None,
    progress: bool = True,
    sha256: str | None = None,
    verify: bool = True,
) -> Corpus:
    """Load the RAVDESS speech corpus (Livingstone and Russo, 2018).

    Layout: ``root/Actor_01/03-01-05-01-02-01-01.wav`` ... ``root/Actor_24/``, file names
    ``modality-channel-emotion-intensity-statement-repetition-actor``. ``root`` may also be the
    folder holding an unpacked ``Audio_Speech_Actors_01-24/``. Only audio-only (modality 03)
    files are accepted; song files (vocal channel 02) are skipped so the song archive may share
    the Actor folders. Subsets of the actors load (with fewer folds); the full corpus has 1440
    files, 60 per actor, and a full actor set with another count only warns.

    Classes: ``RAVDESS_CLASSES`` (emotion codes 01-08 in order). Speaker ``"Actor_XX"``; gender M
    for odd actor numbers, F for even. ``speaker_groups``: the actors present, in order, in
    groups of four (the standard six folds 1-4, 5-8, ..., 21-24 for the full corpus).

    Args:
        root: Folder holding ``Actor_01`` ... ``Actor_24`` (created by ``download=True``).
        download: Fetch and unpack the speech archive into ``root`` when ``root`` holds no
            Actor folders.
        url: Archive URL (``https://`` or ``file://``) used by ``download``.
        archive: Local copy of ``Audio_Speech_Actors_01-24.zip`` to unpack instead of
            downloading (used by ``download``).
        md5: Expected MD5 of the archive; ``sha256``: its SHA-256. With neither, the official
            archive's pinned digest is checked (``datamodules.download.RAVDESS_SPEECH_*``).
        progress: Show a download progress bar.
        verify: ``False`` skips the checksum (only for an archive that is not the official one).

    Returns:
        The corpus, utterances sorted by ``utt_id`` (``"Actor_01/03-01-01-01-01-01-01"``).

    Raises:
        CorpusError: No Actor folders (and ``download`` is False), zero speech files, a WAV name
            that does not follow the pattern, a non-audio-only modality, an unknown emotion,
            intensity, statement or repetition code, or an actor number that differs from its
            folder.
        datamodules.download.DownloadError: The download or extraction fails.
    """
    root = resolve_root(root)
    data = _ravdess_data_dir(root)
    if data is None and download:
        download_ravdess(root, url=url, archive=archive, md5=md5, progress=progress, sha256=sha256, verify=verify)
        data = _ravdess_data_dir(root)
        if data is None:
            source = archive if archive is not None else url
            raise CorpusError(
                f"Unpacked {source} into {root}, but it holds no Actor_XX folders. Expected the "
                "RAVDESS speech archive Audio_Speech_Actors_01-24.zip; check the url/archive."
            )
    if data is None:
        raise CorpusError(
            f"RAVDESS not found at {root}: expected folders Actor_01 ... Actor_24 holding files "
            "like Actor_01/03-01-05-01-02-01-01.wav. Use download=True to fetch the speech "
            f"archive (about 200 MB) from {url}, pass archive= a local copy of "
            "Audio_Speech_Actors_01-24.zip with download=True, or point root to the folder "
            "holding Actor_01..Actor_24."
        )

    utterances: list[Utterance] = []
    actors: list[int] = []
    skipped: Counter[str] = Counter()
    for actor_dir in subdirs(data):
        match = _RAVDESS_ACTOR_DIR.match(actor_dir.name)
        if match is None:
            continue
        actor = int(match.group(1))
        found = 0
        for path in list_files(actor_dir, skipped=skipped):
            fields = _RAVDESS_NAME.match(path.stem)
            if fields is None:
                raise CorpusError(
                    f"{path}: file name does not follow the RAVDESS pattern "
                    "modality-channel-emotion-intensity-statement-repetition-actor.wav "
                    "(e.g. 03-01-05-01-02-01-01.wav). Move the file out of the corpus folder."
                )
            modality, channel, emotion, intensity, statement, repetition, file_actor = (int(x) for x in fields.groups())
            if modality != 3:
                raise CorpusError(
                    f"{path}: modality {modality:02d} is not audio-only (03). Expected the "
                    "speech archive Audio_Speech_Actors_01-24; move video-derived files out."
                )
            if channel == 2:
                continue  # song, from the song archive; this loader reads speech only
            if channel != 1:
                raise CorpusError(
                    f"{path}: unknown vocal channel {channel:02d}; expected 01 (speech) or 02 (song, skipped)."
                )
            if not 1 <= emotion <= len(RAVDESS_CLASSES):
                raise CorpusError(
                    f"{path}: unknown emotion code {emotion:02d}; expected 01-08 "
                    f"({', '.join(RAVDESS_CLASSES)}). Move the file out of the corpus folder."
                )
            for what, value in (
                ("intensity", intensity),
                ("statement", statement),
                ("repetition", repetition),
            ):
                if value not in (1, 2):
                    raise CorpusError(f"{path}: unknown {what} code {value:02d}; expected 01 or 02.")
            if file_actor != actor:
                raise CorpusError(
                    f"{path}: the file name says actor {file_actor:02d} but it lies in "
                    f"{actor_dir.name}. Move it to Actor_{file_actor:02d}."
                )
            utterances.append(
                Utterance(
                    utt_id=relative_id(path, data),
                    path=path,
                    label=RAVDESS_CLASSES[emotion - 1],
                    speaker=actor_dir.name,
                    gender="M" if actor % 2 == 1 else "F",
                )
            )
            found += 1
        if found:
            actors.append(actor)
    if not utterances:
        raise CorpusError(
            f"RAVDESS at {data}: found Actor folders but zero speech WAV files "
            "(03-01-*.wav). Unpack Audio_Speech_Actors_01-24.zip there, or use download=True "
            "with an empty root."
        )
    warn_count("RAVDESS", data, len(utterances), _RAVDESS_FULL_COUNT, complete=len(actors) == _RAVDESS_ACTORS,
               what="speech files for all 24 actors (60 per actor)")
    warn_skipped(skipped, data, (".wav",))
    speakers = [f"Actor_{a:02d}" for a in sorted(actors)]
    return Corpus(
        name="ravdess",
        root=data,
        classes=RAVDESS_CLASSES,
        utterances=sort_utterances(utterances),
        speaker_groups=chunk(speakers, _RAVDESS_GROUP_SIZE),
    )



register_corpus("ravdess", load_ravdess, classes=RAVDESS_CLASSES, can_download=True)
