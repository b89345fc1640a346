"""Emotional-speech corpora as tables of utterances, and one loader per corpus layout.

A :class:`Corpus` is a list of :class:`Utterance` rows (audio path, canonical label, speaker,
and session/gender where the corpus documents them), a fixed class order (class index =
position in ``Corpus.classes``) and the corpus's standard speaker-independent folds
(``speaker_groups``). Loaders only scan file names and label files; they never read audio.

Every loader checks what it found and raises :class:`CorpusError` naming the path, what was
expected, what was found and how to fix it: a missing folder, zero files, a file name that does
not follow the corpus's naming scheme, an unknown label code, a label file that points at a
missing WAV. Utterances are sorted by ``utt_id`` so that every run sees the same order.

Canonical class orders (class index = position):

========  ===========================================================================
corpus    classes
========  ===========================================================================
RAVDESS   neutral, calm, happy, sad, angry, fearful, disgust, surprised (codes 01-08)
EMO-DB    angry, bored, disgust, fearful, happy, sad, neutral (letters W L E A F T N)
IEMOCAP   neutral, happy, angry, sad (neu, hap+exc, ang, sad; the rest is dropped)
SAVEE     angry, disgust, fearful, happy, neutral, sad, surprised (a d f h n sa su)
========  ===========================================================================
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from datamodules.download import RAVDESS_SPEECH_URL, download_ravdess

__all__ = [
    "AUDIO_LIKE_SUFFIXES",
    "CORPUS_NAMES",
    "EMODB_CLASSES",
    "EMODB_SPEAKER_GENDER",
    "IEMOCAP_CLASSES",
    "RAVDESS_CLASSES",
    "RAVDESS_SPEECH_URL",
    "SAVEE_CLASSES",
    "UNKNOWN_SPEAKER",
    "Corpus",
    "CorpusError",
    "CorpusName",
    "Utterance",
    "load_corpus",
    "load_csv",
    "load_emodb",
    "load_folder",
    "load_iemocap",
    "load_ravdess",
    "load_savee",
]

PathLike = str | os.PathLike[str]

UNKNOWN_SPEAKER = "unknown"
"""Speaker id of utterances whose speaker is not known (``load_folder`` without a regex, a CSV
without a speaker column). The ``speaker`` protocol refuses corpora that contain it."""

RAVDESS_CLASSES: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
EMODB_CLASSES: tuple[str, ...] = ("angry", "bored", "disgust", "fearful", "happy", "sad", "neutral")
IEMOCAP_CLASSES: tuple[str, ...] = ("neutral", "happy", "angry", "sad")
SAVEE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")

EMODB_SPEAKER_GENDER: dict[str, str] = {
    "03": "M", "08": "F", "09": "F", "10": "M", "11": "M",
    "12": "M", "13": "F", "14": "F", "15": "M", "16": "F",
}  # fmt: skip
"""The ten EMO-DB speakers and their gender, from the corpus documentation."""

_RAVDESS_FULL_COUNT = 1440
_RAVDESS_ACTORS = 24
_RAVDESS_GROUP_SIZE = 4
_RAVDESS_ARCHIVE_FOLDER = "Audio_Speech_Actors_01-24"
_RAVDESS_ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")

_EMODB_FULL_COUNT = 535
_EMODB_NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Za-z])([a-z])$")
_EMODB_CODES = {
    "W": "angry", "L": "bored", "E": "disgust", "A": "fearful",
    "F": "happy", "T": "sad", "N": "neutral",
}  # fmt: skip

_IEMOCAP_FULL_COUNT = 5531
_IEMOCAP_FOLDER = "IEMOCAP_full_release"
_IEMOCAP_SESSIONS = 5
_IEMOCAP_KEEP = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
_IEMOCAP_DROP = frozenset({"fru", "sur", "fea", "dis", "oth", "xxx"})
_IEMOCAP_LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\S+)\s+\[")
_IEMOCAP_UTT = re.compile(r"^Ses(\d{2})([FM])_(\S+)_([FM])\d{3}$")

_SAVEE_FULL_COUNT = 480
_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE_NAME = re.compile(r"^([a-z]+)(\d{2})$")
_SAVEE_CODES = {
    "a": "angry", "d": "disgust", "f": "fearful", "h": "happy",
    "n": "neutral", "sa": "sad", "su": "surprised",
}  # fmt: skip

_FOLDER_EXTENSIONS = (".wav", ".flac", ".ogg")
_GENDERS = {"f": "F", "female": "F", "m": "M", "male": "M"}


class CorpusError(ValueError):
    """Raised when a corpus cannot be loaded as asked; the message names the path and the fix."""


@dataclass(frozen=True)
class Utterance:
    """One audio file with its label and speaker.

    Attributes:
        utt_id: Unique id in the corpus: the path relative to ``Corpus.root``, without suffix,
            with ``/`` separators.
        path: Absolute path of the audio file.
        label: Canonical class name, e.g. ``"angry"``.
        speaker: Corpus-wide speaker id, e.g. ``"Actor_01"``, ``"03"``, ``"Ses01F"``.
        session: Recording session where the corpus has them (IEMOCAP ``"Ses01"``), else None.
        gender: ``"F"``, ``"M"`` or None when unknown.
    """

    utt_id: str
    path: Path
    label: str
    speaker: str
    session: str | None = None
    gender: str | None = None


@dataclass
class Corpus:
    """A table of utterances with a fixed class order.

    Attributes:
        name: Corpus name, e.g. ``"ravdess"``.
        root: Folder the ``utt_id`` s are relative to.
        classes: Class names; the class index of a label is its position here.
        utterances: The utterances, sorted by ``utt_id`` by every loader.
        speaker_groups: The corpus's standard speaker-independent folds (each a tuple of speaker
            ids), or None when the corpus has none and generic folds should be drawn.

    Raises:
        CorpusError: On construction, when ``classes`` is empty or repeats a name, a label is not
            in ``classes``, two utterances share an ``utt_id``, or ``speaker_groups`` does not
            place every speaker in exactly one group.
    """

    name: str
    root: Path
    classes: tuple[str, ...]
    utterances: list[Utterance]
    speaker_groups: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.classes = tuple(self.classes)
        if not self.classes:
            raise CorpusError(f"Corpus {self.name!r}: expected at least one class, got none.")
        repeated = sorted(c for c, n in Counter(self.classes).items() if n > 1)
        if repeated:
            raise CorpusError(
                f"Corpus {self.name!r}: class names must be unique, got {repeated} more than once in {self.classes}."
            )
        known = set(self.classes)
        unknown = sorted({u.label for u in self.utterances} - known)
        if unknown:
            raise CorpusError(
                f"Corpus {self.name!r}: labels {unknown} are not among the classes "
                f"{self.classes}. Add them to the classes or drop those utterances."
            )
        dupes = sorted(i for i, n in Counter(u.utt_id for u in self.utterances).items() if n > 1)
        if dupes:
            raise CorpusError(
                f"Corpus {self.name!r}: utt_ids must be unique, got {dupes[:5]} more than once "
                "(two files with the same path but different suffixes?)."
            )
        if self.speaker_groups is not None:
            self.speaker_groups = tuple(tuple(g) for g in self.speaker_groups)
            grouped = [s for g in self.speaker_groups for s in g]
            twice = sorted(s for s, n in Counter(grouped).items() if n > 1)
            missing = sorted(set(self.speakers()) - set(grouped))
            empty = [i for i, g in enumerate(self.speaker_groups) if not g]
            if twice or missing or empty:
                raise CorpusError(
                    f"Corpus {self.name!r}: speaker_groups must put every speaker in exactly "
                    f"one non-empty group; speakers in several groups: {twice}, speakers in no "
                    f"group: {missing}, empty groups: {empty}."
                )

    def __len__(self) -> int:
        return len(self.utterances)

    def label_index(self, label: str) -> int:
        """Return the class index of ``label``.

        Raises:
            CorpusError: ``label`` is not one of ``classes``.
        """
        try:
            return self.classes.index(label)
        except ValueError:
            raise CorpusError(
                f"Corpus {self.name!r}: unknown label {label!r}; expected one of {self.classes}."
            ) from None

    def targets(self) -> list[int]:
        """Return the class index of every utterance, in ``utterances`` order."""
        index = {c: i for i, c in enumerate(self.classes)}
        return [index[u.label] for u in self.utterances]

    def speakers(self) -> list[str]:
        """Return the sorted unique speaker ids."""
        return sorted({u.speaker for u in self.utterances})

    def utt_ids(self) -> list[str]:
        """Return every ``utt_id``, in ``utterances`` order."""
        return [u.utt_id for u in self.utterances]

    def class_counts(self) -> dict[str, int]:
        """Return the number of utterances per class, in class order (zero counts included)."""
        counts = Counter(u.label for u in self.utterances)
        return {c: counts.get(c, 0) for c in self.classes}


# ---------------------------------------------------------------------------------------------
# helpers


def _resolve_dir(root: PathLike, argument: str = "root") -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise CorpusError(f"Expected {argument} to be a path, got {type(root).__name__}: {root!r}.")
    return Path(root).expanduser().resolve()


def _visible(path: Path) -> bool:
    # macOS copies of the corpora carry "._name" resource files and .DS_Store next to the data.
    return not path.name.startswith(".")


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))


AUDIO_LIKE_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".m4a", ".aac", ".wma", ".opus", ".webm", ".mp4")
"""Suffixes of files that may hold speech: a loader that passes over one of them says so."""
_AUDIO_LIKE = AUDIO_LIKE_SUFFIXES


def _broken_link_error(links: Sequence[Path], where: Path) -> CorpusError:
    shown = ", ".join(str(p) for p in links[:5])
    return CorpusError(
        f"{len(links)} audio file(s) under {where} are broken symbolic links ({shown}{', ...' if len(links) > 5 else ''}): "
        "the content was never fetched (a git-annex / DataLad dataset?). Run `datalad get -r .` or `git annex get .` "
        "in the dataset, or remove the links; they are not skipped, since a whole class could vanish silently."
    )


def _check_links(root: Path) -> None:
    """Refuse a corpus tree holding dangling links to audio files, listing all of them."""
    if not root.is_dir():
        return
    broken = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if _visible(path) and path.suffix.lower() in _AUDIO_LIKE and path.is_symlink() and not path.exists():
                broken.append(path)
    if broken:
        raise _broken_link_error(broken, root)


def _warn_skipped(skipped: Counter[str], where: Path, accepted: Iterable[str]) -> None:
    """One warning counting the files a loader passed over, by suffix."""
    if skipped:
        warnings.warn(
            f"{where}: skipped {sum(skipped.values())} file(s) that are not {'/'.join(accepted)} "
            f"({', '.join(f'{k} {n}' for k, n in skipped.most_common())}). Convert audio among them "
            "(e.g. `ffmpeg -i x.mp3 x.wav`) or move them out of the corpus folder to silence this.",
            stacklevel=3,
        )


def _files(folder: Path, suffixes: Iterable[str] = (".wav",), skipped: Counter[str] | None = None) -> list[Path]:
    """Visible files of ``folder`` with one of ``suffixes``; other visible files are counted in
    ``skipped``; a dangling link with an audio suffix is an error."""
    wanted = tuple(s.lower() for s in suffixes)
    found, broken = [], []
    for p in folder.iterdir():
        if not _visible(p):
            continue
        if p.suffix.lower() in wanted and p.is_file():
            found.append(p)
        elif p.is_symlink() and not p.exists() and p.suffix.lower() in (*wanted, *_AUDIO_LIKE):
            broken.append(p)
        elif p.is_file() and skipped is not None and p.suffix.lower() in _AUDIO_LIKE:
            skipped[p.suffix.lower()] += 1
    if broken:
        raise _broken_link_error(sorted(broken), folder)
    return sorted(found)


def _link_hint(path: Path) -> str:
    """Why an expected audio file is missing, when it is a dangling link."""
    if path.is_symlink():
        return " (it is a broken symbolic link: un-fetched git-annex / DataLad content? run `datalad get` on it)"
    return ""


def _utt_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _chunk(items: Sequence[str], size: int) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(items[i : i + size]) for i in range(0, len(items), size))


def _sorted(utterances: Iterable[Utterance]) -> list[Utterance]:
    return sorted(utterances, key=lambda u: u.utt_id)


# ---------------------------------------------------------------------------------------------
# RAVDESS


def _ravdess_data_dir(root: Path) -> Path | None:
    for candidate in (root, root / _RAVDESS_ARCHIVE_FOLDER):
        if candidate.is_dir() and any(_RAVDESS_ACTOR_DIR.match(p.name) for p in _subdirs(candidate)):
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
    root = _resolve_dir(root)
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
    for actor_dir in _subdirs(data):
        match = _RAVDESS_ACTOR_DIR.match(actor_dir.name)
        if match is None:
            continue
        actor = int(match.group(1))
        found = 0
        for path in _files(actor_dir, skipped=skipped):
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
                    utt_id=_utt_id(path, data),
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
    if len(actors) == _RAVDESS_ACTORS and len(utterances) != _RAVDESS_FULL_COUNT:
        warnings.warn(
            f"RAVDESS at {data}: found {len(utterances)} speech files for all 24 actors, the "
            f"full corpus has {_RAVDESS_FULL_COUNT} (60 per actor); loading them anyway.",
            stacklevel=2,
        )
    _warn_skipped(skipped, data, (".wav",))
    speakers = [f"Actor_{a:02d}" for a in sorted(actors)]
    return Corpus(
        name="ravdess",
        root=data,
        classes=RAVDESS_CLASSES,
        utterances=_sorted(utterances),
        speaker_groups=_chunk(speakers, _RAVDESS_GROUP_SIZE),
    )


# ---------------------------------------------------------------------------------------------
# EMO-DB


def load_emodb(root: PathLike) -> Corpus:
    """Load the Berlin Database of Emotional Speech (EMO-DB, Burkhardt et al., 2005).

    Layout: ``root/wav/03a01Fa.wav`` (speaker 2 digits, text 3, emotion letter, version letter);
    ``root`` may be the corpus folder holding ``wav/`` or ``wav/`` itself. The full corpus has
    535 files from 10 speakers; a full speaker set with another count only warns.

    Classes: ``EMODB_CLASSES`` = angry (W), bored (L), disgust (E), fearful (A), happy (F),
    sad (T), neutral (N), the letter order of the corpus documentation. Speaker = the 2-digit
    id, gender from ``EMODB_SPEAKER_GENDER``. ``speaker_groups``: leave one speaker out.
    ``Corpus.root`` is the ``wav/`` folder, so ``utt_id`` is the file stem (``"03a01Fa"``)
    whichever folder ``root`` names.

    Args:
        root: The EMO-DB folder (holding ``wav/``) or its ``wav/`` folder.

    Returns:
        The corpus, utterances sorted by ``utt_id``.

    Raises:
        CorpusError: No WAV folder, zero files, a name that does not follow the pattern, an
            unknown emotion letter or an unknown speaker id.
    """
    root = _resolve_dir(root)
    if (root / "wav").is_dir():
        audio = root / "wav"
    elif root.is_dir() and _files(root):
        audio = root
    else:
        raise CorpusError(
            f"EMO-DB not found at {root}: expected {root / 'wav'} holding files like 03a01Fa.wav. "
            "Download the corpus from http://emodb.bilderbar.info/ and point root at the "
            "unpacked folder (the one holding wav/) or at wav/ itself."
        )
    skipped: Counter[str] = Counter()
    files = _files(audio, skipped=skipped)
    _warn_skipped(skipped, audio, (".wav",))
    if not files:
        raise CorpusError(
            f"EMO-DB at {audio}: zero .wav files; expected files like 03a01Fa.wav. Point root "
            "at the unpacked EMO-DB folder."
        )
    utterances = []
    for path in files:
        fields = _EMODB_NAME.match(path.stem)
        if fields is None:
            raise CorpusError(
                f"{path}: file name does not follow the EMO-DB pattern speaker(2 digits) "
                "text(a01..b10) emotion(1 letter) version(1 letter), e.g. 03a01Fa.wav. Move "
                "the file out of the corpus folder."
            )
        speaker, _text, code, _version = fields.groups()
        if code not in _EMODB_CODES:
            raise CorpusError(
                f"{path}: unknown emotion letter {code!r}; expected one of "
                f"{', '.join(f'{k}={v}' for k, v in _EMODB_CODES.items())}."
            )
        if speaker not in EMODB_SPEAKER_GENDER:
            raise CorpusError(
                f"{path}: unknown speaker {speaker!r}; EMO-DB speakers are "
                f"{', '.join(EMODB_SPEAKER_GENDER)}. Move the file out of the corpus folder."
            )
        utterances.append(
            Utterance(
                utt_id=_utt_id(path, audio),
                path=path,
                label=_EMODB_CODES[code],
                speaker=speaker,
                gender=EMODB_SPEAKER_GENDER[speaker],
            )
        )
    speakers = sorted({u.speaker for u in utterances})
    if len(speakers) == len(EMODB_SPEAKER_GENDER) and len(utterances) != _EMODB_FULL_COUNT:
        warnings.warn(
            f"EMO-DB at {audio}: found {len(utterances)} files for all 10 speakers, the full "
            f"corpus has {_EMODB_FULL_COUNT}; loading them anyway.",
            stacklevel=2,
        )
    return Corpus(
        name="emodb",
        root=audio,
        classes=EMODB_CLASSES,
        utterances=_sorted(utterances),
        speaker_groups=tuple((s,) for s in speakers),
    )


# ---------------------------------------------------------------------------------------------
# IEMOCAP


def _iemocap_release_dir(root: Path) -> Path | None:
    for candidate in (root, root / _IEMOCAP_FOLDER):
        if any((candidate / f"Session{n}").is_dir() for n in range(1, _IEMOCAP_SESSIONS + 1)):
            return candidate
    return None


def load_iemocap(root: PathLike) -> Corpus:
    """Load the four-class IEMOCAP set (Busso et al., 2008).

    Layout of ``IEMOCAP_full_release``: labels in ``SessionN/dialog/EmoEvaluation/*.txt``, lines
    ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``; audio in
    ``SessionN/sentences/wav/<dialog>/<utterance>.wav``. ``root`` may be that folder or the one
    holding it.

    Classes: ``IEMOCAP_CLASSES`` = neutral (neu), happy (hap and exc merged), angry (ang),
    sad (sad); utterances labelled fru, sur, fea, dis, oth or xxx are dropped. The full corpus
    gives 5531 utterances (a full session set with another count only warns).

    The speaker is the session plus the gender letter of the utterance name's *last* part
    (``Ses01F_impro01_M013`` is spoken by ``"Ses01M"``; the letter after ``Ses01`` only says who
    wore the motion-capture markers in that dialog). ``session`` is ``"Ses01"``.
    ``speaker_groups``: leave one session out (the two speakers of each session).

    Args:
        root: ``IEMOCAP_full_release`` or the folder holding it.

    Returns:
        The corpus; ``utt_id`` is ``"Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000"``.

    Raises:
        CorpusError: No Session folders, a session without ``dialog/EmoEvaluation``, an unknown
            label code, a malformed utterance name, an utterance listed twice or in the wrong
            session, a label line whose WAV is missing, or zero utterances.
    """
    root = _resolve_dir(root)
    release = _iemocap_release_dir(root)
    if release is None:
        raise CorpusError(
            f"IEMOCAP not found at {root}: expected folders Session1 ... Session5 (of "
            f"{_IEMOCAP_FOLDER}) holding dialog/EmoEvaluation/*.txt and sentences/wav/. "
            "IEMOCAP is licensed by USC SAIL (https://sail.usc.edu/iemocap/); point root at "
            f"the unpacked {_IEMOCAP_FOLDER} folder."
        )
    utterances: dict[str, Utterance] = {}
    where: dict[str, str] = {}
    sessions: list[str] = []
    for n in range(1, _IEMOCAP_SESSIONS + 1):
        session_dir = release / f"Session{n}"
        if not session_dir.is_dir():
            continue
        sessions.append(f"Ses{n:02d}")
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        if not eval_dir.is_dir():
            raise CorpusError(
                f"IEMOCAP: {eval_dir} does not exist; every SessionN folder needs its "
                "dialog/EmoEvaluation/*.txt label files. Re-copy the session from the release."
            )
        label_files = _files(eval_dir, (".txt",))
        if not label_files:
            raise CorpusError(
                f"IEMOCAP: {eval_dir} holds no .txt label files (e.g. Ses0{n}F_impro01.txt). "
                "Re-copy the session from the release."
            )
        for label_file in label_files:
            text = label_file.read_text(encoding="utf-8", errors="replace")
            for line_no, line in enumerate(text.splitlines(), start=1):
                match = _IEMOCAP_LINE.match(line)
                if match is None:
                    continue  # header, blank and per-annotator detail lines
                name, code = match.groups()
                location = f"{label_file}:{line_no}"
                parts = _IEMOCAP_UTT.match(name)
                if parts is None:
                    raise CorpusError(
                        f"{location}: utterance name {name!r} does not follow the IEMOCAP "
                        "pattern Ses01F_impro01_F000 (session, dialog, speaker gender + number)."
                    )
                if int(parts.group(1)) != n:
                    raise CorpusError(
                        f"{location}: utterance {name!r} belongs to Ses{parts.group(1)} but is "
                        f"listed under {session_dir.name}. Check the copied tree."
                    )
                if code in _IEMOCAP_DROP:
                    continue
                if code not in _IEMOCAP_KEEP:
                    raise CorpusError(
                        f"{location}: unknown label code {code!r}; expected one of "
                        f"{sorted(set(_IEMOCAP_KEEP) | _IEMOCAP_DROP)}."
                    )
                dialog = name.rsplit("_", 1)[0]
                wav = session_dir / "sentences" / "wav" / dialog / f"{name}.wav"
                if not wav.is_file():
                    raise CorpusError(
                        f"{location}: labelled utterance {name!r} has no audio; expected {wav}{_link_hint(wav)}. "
                        "Re-copy sentences/wav from the release."
                    )
                if name in utterances:
                    raise CorpusError(
                        f"{location}: utterance {name!r} is labelled twice (also at "
                        f"{where[name]}). Remove the duplicate label line or file."
                    )
                session, gender = f"Ses{parts.group(1)}", parts.group(4)
                utterances[name] = Utterance(
                    utt_id=_utt_id(wav, release),
                    path=wav,
                    label=_IEMOCAP_KEEP[code],
                    speaker=f"{session}{gender}",
                    session=session,
                    gender=gender,
                )
                where[name] = location
    if not utterances:
        raise CorpusError(
            f"IEMOCAP at {release}: zero utterances with labels neu, hap, exc, ang or sad in "
            "SessionN/dialog/EmoEvaluation/*.txt. Check that the label files are the release's."
        )
    if len(sessions) == _IEMOCAP_SESSIONS and len(utterances) != _IEMOCAP_FULL_COUNT:
        warnings.warn(
            f"IEMOCAP at {release}: found {len(utterances)} four-class utterances in all five "
            f"sessions, the standard set has {_IEMOCAP_FULL_COUNT}; loading them anyway.",
            stacklevel=2,
        )
    found = _sorted(utterances.values())
    groups = tuple(
        tuple(sorted({u.speaker for u in found if u.session == s}))
        for s in sessions
        if any(u.session == s for u in found)
    )
    return Corpus(
        name="iemocap",
        root=release,
        classes=IEMOCAP_CLASSES,
        utterances=found,
        speaker_groups=groups,
    )


# ---------------------------------------------------------------------------------------------
# SAVEE


def load_savee(root: PathLike) -> Corpus:
    """Load the Surrey Audio-Visual Expressed Emotion corpus (SAVEE, Haq and Jackson, 2009).

    Layout: ``root/AudioData/<speaker>/<code><nn>.wav`` with speakers DC, JE, JK, KL and codes
    a (anger), d (disgust), f (fear), h (happiness), n (neutral), sa (sadness), su (surprise),
    e.g. ``AudioData/DC/sa03.wav``. ``root`` may be the folder holding ``AudioData`` or
    ``AudioData`` itself. The full corpus has 480 files (a full speaker set with another count
    only warns).

    Classes: ``SAVEE_CLASSES`` = angry, disgust, fearful, happy, neutral, sad, surprised (the
    code order). All four speakers are male. ``speaker_groups``: leave one speaker out.
    ``Corpus.root`` is the ``AudioData`` folder, so ``utt_id`` is ``"DC/a01"``.

    Args:
        root: The folder holding ``AudioData`` or ``AudioData`` itself.

    Returns:
        The corpus, utterances sorted by ``utt_id``.

    Raises:
        CorpusError: No AudioData/speaker folders, an unknown speaker folder, zero files, a file
            name that does not follow the pattern or an unknown emotion code.
    """
    root = _resolve_dir(root)
    if (root / "AudioData").is_dir():
        audio = root / "AudioData"
    elif root.is_dir() and any((root / s).is_dir() for s in _SAVEE_SPEAKERS):
        audio = root
    else:
        raise CorpusError(
            f"SAVEE not found at {root}: expected {root / 'AudioData'} holding speaker folders "
            f"{', '.join(_SAVEE_SPEAKERS)} with files like DC/a01.wav. Point root at the folder "
            "holding AudioData (from the SAVEE release) or at AudioData itself."
        )
    utterances = []
    speakers = []
    skipped: Counter[str] = Counter()
    for speaker_dir in _subdirs(audio):
        speaker = speaker_dir.name
        if speaker not in _SAVEE_SPEAKERS:
            raise CorpusError(
                f"{speaker_dir}: unknown SAVEE speaker folder {speaker!r}; expected "
                f"{', '.join(_SAVEE_SPEAKERS)}. Move other folders out of {audio}."
            )
        for path in _files(speaker_dir, skipped=skipped):
            fields = _SAVEE_NAME.match(path.stem)
            if fields is None:
                raise CorpusError(
                    f"{path}: file name does not follow the SAVEE pattern <code><2 digits>.wav "
                    "(e.g. a01.wav, sa12.wav). Move the file out of the corpus folder."
                )
            code = fields.group(1)
            if code not in _SAVEE_CODES:
                raise CorpusError(
                    f"{path}: unknown emotion code {code!r}; expected one of "
                    f"{', '.join(f'{k}={v}' for k, v in _SAVEE_CODES.items())}."
                )
            utterances.append(
                Utterance(
                    utt_id=_utt_id(path, audio),
                    path=path,
                    label=_SAVEE_CODES[code],
                    speaker=speaker,
                    gender="M",
                )
            )
        if any(u.speaker == speaker for u in utterances):
            speakers.append(speaker)
    _warn_skipped(skipped, audio, (".wav",))
    if not utterances:
        raise CorpusError(
            f"SAVEE at {audio}: zero .wav files in the speaker folders "
            f"{', '.join(_SAVEE_SPEAKERS)}. Point root at the folder holding AudioData."
        )
    if len(speakers) == len(_SAVEE_SPEAKERS) and len(utterances) != _SAVEE_FULL_COUNT:
        warnings.warn(
            f"SAVEE at {audio}: found {len(utterances)} files for all four speakers, the full "
            f"corpus has {_SAVEE_FULL_COUNT}; loading them anyway.",
            stacklevel=2,
        )
    return Corpus(
        name="savee",
        root=audio,
        classes=SAVEE_CLASSES,
        utterances=_sorted(utterances),
        speaker_groups=tuple((s,) for s in speakers),
    )


# ---------------------------------------------------------------------------------------------
# generic corpora


def _check_classes(classes: Sequence[str] | None, argument: str) -> tuple[str, ...] | None:
    if classes is None:
        return None
    if isinstance(classes, str) or not all(isinstance(c, str) and c for c in classes):
        raise CorpusError(f"Expected {argument} to be a sequence of non-empty class names, got {classes!r}.")
    return tuple(classes)


def load_csv(
    csv_path: PathLike,
    root: PathLike | None = None,
    classes: Sequence[str] | None = None,
    name: str = "csv",
) -> Corpus:
    """Load a corpus described by a CSV file.

    Columns (header row required, extra columns ignored): ``path`` and ``label`` (required),
    ``speaker``, ``session`` and ``gender`` (optional; ``gender`` is F/M/female/male or empty).
    Without a ``speaker`` column, or with an empty cell, the speaker is ``UNKNOWN_SPEAKER`` and
    only the ``paper`` protocol can be used. Relative paths are resolved against ``root`` or,
    by default, the CSV's folder; ``utt_id`` is the path relative to that folder without its
    suffix (the absolute path without suffix for files outside it).

    Args:
        csv_path: The CSV file.
        root: Folder relative paths are resolved against; default the CSV's folder.
        classes: Class order; default the sorted unique labels.
        name: Corpus name.

    Returns:
        The corpus, with ``speaker_groups=None`` (generic folds), sorted by ``utt_id``.

    Raises:
        CorpusError: The CSV is missing or empty, a required column is missing, a row names a
            missing file, has an empty path or label, a label outside ``classes``, a bad gender,
            or repeats another row's file. Row errors name the CSV line.
    """
    csv_file = _resolve_dir(csv_path, "csv_path")
    if not csv_file.is_file():
        raise CorpusError(
            f"CSV file {csv_file} does not exist. Pass csv_path= a file with columns "
            "path,label[,speaker,session,gender]."
        )
    base = _resolve_dir(root) if root is not None else csv_file.parent
    if not base.is_dir():
        raise CorpusError(f"root={base} is not a folder; pass the folder the CSV paths start in.")
    wanted = _check_classes(classes, "classes")
    utterances = []
    seen: dict[str, int] = {}
    with open(csv_file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        if reader.fieldnames is None:
            raise CorpusError(f"{csv_file}: empty file; expected a header row path,label[,speaker,...].")
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        missing = [c for c in ("path", "label") if c not in reader.fieldnames]
        if missing:
            raise CorpusError(
                f"{csv_file}:1: missing column(s) {missing}; expected a header with path,label "
                f"(and optionally speaker,session,gender), got {reader.fieldnames}."
            )
        for row in reader:
            line = reader.line_num
            cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
            if not cell.get("path"):
                raise CorpusError(f"{csv_file}:{line}: empty path; every row needs a file path.")
            if not cell.get("label"):
                raise CorpusError(f"{csv_file}:{line}: empty label for {cell['path']!r}.")
            path = Path(cell["path"]).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise CorpusError(
                    f"{csv_file}:{line}: audio file {path} does not exist{_link_hint(path)} (relative paths are "
                    f"resolved against {base}; pass root= to change that)."
                )
            if wanted is not None and cell["label"] not in wanted:
                raise CorpusError(f"{csv_file}:{line}: label {cell['label']!r} is not in classes={wanted}.")
            gender = cell.get("gender", "")
            if gender and gender.lower() not in _GENDERS:
                raise CorpusError(f"{csv_file}:{line}: gender {gender!r}; expected F, M, female, male or empty.")
            try:
                utt_id = _utt_id(path, base)
            except ValueError:
                utt_id = path.with_suffix("").as_posix()
            if utt_id in seen:
                raise CorpusError(
                    f"{csv_file}:{line}: {path} is listed again (first at line {seen[utt_id]}); "
                    "each audio file may appear once."
                )
            seen[utt_id] = line
            utterances.append(
                Utterance(
                    utt_id=utt_id,
                    path=path,
                    label=cell["label"],
                    speaker=cell.get("speaker") or UNKNOWN_SPEAKER,
                    session=cell.get("session") or None,
                    gender=_GENDERS[gender.lower()] if gender else None,
                )
            )
    if not utterances:
        raise CorpusError(f"{csv_file}: zero rows after the header; add one row per audio file.")
    return Corpus(
        name=name,
        root=base,
        classes=wanted or tuple(sorted({u.label for u in utterances})),
        utterances=_sorted(utterances),
        speaker_groups=None,
    )


def load_folder(
    root: PathLike,
    speaker_regex: str | re.Pattern[str] | None = None,
    extensions: Sequence[str] = _FOLDER_EXTENSIONS,
    name: str = "folder",
) -> Corpus:
    """Load a corpus laid out as one sub-folder per class (``root/angry/x.wav``).

    Audio files (``extensions``, case-insensitive) are found at any depth inside each class
    folder; hidden files are ignored. Classes are the sorted class-folder names.

    Speakers: without ``speaker_regex`` every speaker is ``UNKNOWN_SPEAKER``, which is fine for
    the ``paper`` protocol, but the ``speaker`` protocol then fails, because speaker-independent
    folds cannot be drawn without speakers. With ``speaker_regex``, its first group, searched in
    each file name (e.g. ``r"^(\\w+?)_"`` for ``spk1_0001.wav``), gives the speaker.

    Args:
        root: Folder holding one sub-folder per class.
        speaker_regex: Regular expression with at least one group, or None.
        extensions: Audio file suffixes to include.
        name: Corpus name.

    Returns:
        The corpus (``speaker_groups=None``), sorted by ``utt_id`` (``"angry/x"``).

    Raises:
        CorpusError: ``root`` is missing or has no class folders, a class folder holds no audio,
            ``speaker_regex`` has no group or does not match a file name.
    """
    root = _resolve_dir(root)
    if not root.is_dir():
        raise CorpusError(
            f"Folder corpus not found at {root}: expected one sub-folder per class holding "
            f"audio files ({', '.join(extensions)}). Point root at that folder."
        )
    pattern: re.Pattern[str] | None = None
    if speaker_regex is not None:
        try:
            pattern = re.compile(speaker_regex)
        except re.error as exc:
            raise CorpusError(f"speaker_regex={speaker_regex!r} is not a valid regex: {exc}.") from None
        if pattern.groups < 1:
            raise CorpusError(
                f"speaker_regex={pattern.pattern!r} has no group; wrap the speaker part of the "
                "file name in parentheses, e.g. r'^(\\w+?)_'."
            )
    class_dirs = _subdirs(root)
    if not class_dirs:
        raise CorpusError(
            f"Folder corpus at {root}: zero class folders; expected one sub-folder per class "
            "(e.g. angry/, happy/) holding audio files."
        )
    wanted = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    utterances = []
    skipped: Counter[str] = Counter()
    broken: list[Path] = []
    for class_dir in class_dirs:
        files = []
        for p in sorted(class_dir.rglob("*")):
            if not all(_visible(Path(part)) for part in p.relative_to(class_dir).parts):
                continue
            if p.suffix.lower() in wanted and p.is_file():
                files.append(p)
            elif p.is_symlink() and not p.exists() and p.suffix.lower() in (*wanted, *_AUDIO_LIKE):
                broken.append(p)
            elif p.is_file() and p.suffix.lower() in _AUDIO_LIKE:
                skipped[p.suffix.lower()] += 1
        if broken:
            continue  # reported below, for every class folder at once
        if not files:
            raise CorpusError(
                f"{class_dir}: class folder holds no audio files ({', '.join(wanted)}). Add files or remove the folder."
            )
        for path in files:
            speaker = UNKNOWN_SPEAKER
            if pattern is not None:
                match = pattern.search(path.name)
                if match is None or not match.group(1):
                    raise CorpusError(
                        f"{path}: speaker_regex={pattern.pattern!r} does not match the file "
                        "name (or its first group is empty). Fix the regex or rename the file."
                    )
                speaker = match.group(1)
            utterances.append(Utterance(utt_id=_utt_id(path, root), path=path, label=class_dir.name, speaker=speaker))
    if broken:
        raise _broken_link_error(broken, root)
    _warn_skipped(skipped, root, wanted)
    return Corpus(
        name=name,
        root=root,
        classes=tuple(d.name for d in class_dirs),
        utterances=_sorted(utterances),
        speaker_groups=None,
    )


# ---------------------------------------------------------------------------------------------
# dispatch

CorpusName = Literal["ravdess", "emodb", "iemocap", "savee", "csv", "folder", "synthetic"]
CORPUS_NAMES: tuple[str, ...] = get_args(CorpusName)


def _load_synthetic(root: PathLike, **kwargs: Any) -> Corpus:
    # Imported lazily: synthetic.py imports this module.
    from datamodules.synthetic import make_synthetic_corpus

    return make_synthetic_corpus(root, **kwargs)


def _load_csv(root: PathLike, audio_root: PathLike | None = None, **kwargs: Any) -> Corpus:
    # load_corpus's ``root`` is the CSV file here, so the audio folder travels as audio_root.
    return load_csv(root, root=audio_root, **kwargs)


_LOADERS: dict[str, Callable[..., Corpus]] = {
    "ravdess": load_ravdess,
    "emodb": load_emodb,
    "iemocap": load_iemocap,
    "savee": load_savee,
    "csv": _load_csv,
    "folder": load_folder,
    "synthetic": _load_synthetic,
}


def load_corpus(name: CorpusName, root: PathLike, **kwargs: Any) -> Corpus:
    """Load a corpus by name.

    Args:
        name: One of ``CORPUS_NAMES``: ``ravdess``, ``emodb``, ``iemocap``, ``savee``, ``csv``
            (``root`` is then the CSV file), ``folder`` or ``synthetic`` (``root`` is then the
            cache folder the generated WAVs are written to).
        root: Corpus folder (or CSV file, or synthetic cache folder).
        **kwargs: Passed to the loader, e.g. ``download=True`` for RAVDESS, ``classes=`` for a
            CSV, ``speaker_regex=`` for a folder, ``seed=`` for the synthetic corpus. For
            ``csv``, ``audio_root=`` is ``load_csv``'s ``root`` (the folder relative paths
            start in).

    Returns:
        The loaded corpus.

    Raises:
        CorpusError: ``name`` is unknown, or the loader fails.
        TypeError: A keyword argument the loader does not take.
    """
    loader = _LOADERS.get(name)
    if loader is None:
        raise CorpusError(f"Unknown corpus name {name!r}; expected one of {CORPUS_NAMES}.")
    if name not in ("csv", "synthetic"):
        _check_links(_resolve_dir(root))  # every dangling link of the tree in one error
    return loader(root, **kwargs)
