"""What every corpus loader returns and the helpers loaders share.

A :class:`Corpus` is a list of :class:`Utterance` rows (audio path, canonical label, speaker,
and session/gender where the corpus documents them), a fixed class order (class index =
position in ``Corpus.classes``) and the corpus's standard speaker-independent folds
(``speaker_groups``). Loaders only scan file names and label files; they never read audio.

Every loader checks what it found and raises :class:`CorpusError` naming the path, what was
expected, what was found and how to fix it. The helpers below do the common part of that for
a loader of your own (see ``datamodules.corpora`` for how to register one): list a folder's
visible audio files (:func:`list_files`, counting passed-over audio in :func:`warn_skipped`),
refuse dangling links (:func:`check_links`), make ``utt_id`` s (:func:`relative_id`) and sort
utterances (:func:`sort_utterances`), so every run sees the same order.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datamodules.suffixes import AUDIO_LIKE_SUFFIXES

__all__ = [
    "UNKNOWN_SPEAKER",
    "Corpus",
    "CorpusError",
    "PathLike",
    "Utterance",
    "broken_link_error",
    "check_links",
    "chunk",
    "is_visible",
    "list_files",
    "missing_file_hint",
    "relative_id",
    "resolve_root",
    "sort_utterances",
    "subdirs",
    "warn_count",
    "warn_skipped",
]

PathLike = str | os.PathLike[str]

UNKNOWN_SPEAKER = "unknown"
"""Speaker id of utterances whose speaker is not known (``load_folder`` without a regex, a CSV
without a speaker column). The ``speaker`` protocol refuses corpora that contain it."""


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
# helpers for loaders


def resolve_root(root: PathLike, argument: str = "root") -> Path:
    """``root`` as an absolute path (``~`` expanded).

    Raises:
        CorpusError: ``root`` is not a path; the message names ``argument``.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise CorpusError(f"Expected {argument} to be a path, got {type(root).__name__}: {root!r}.")
    return Path(root).expanduser().resolve()


def is_visible(path: Path) -> bool:
    """False for hidden files: macOS copies of corpora carry ``._name`` resource files and
    ``.DS_Store`` next to the data."""
    return not path.name.startswith(".")


def subdirs(folder: Path) -> list[Path]:
    """The visible sub-folders of ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_visible(p))


def broken_link_error(links: Sequence[Path], where: Path) -> CorpusError:
    """The error for dangling links to audio files under ``where`` (names up to five of them)."""
    shown = ", ".join(str(p) for p in links[:5])
    return CorpusError(
        f"{len(links)} audio file(s) under {where} are broken symbolic links ({shown}{', ...' if len(links) > 5 else ''}): "
        "the content was never fetched (a git-annex / DataLad dataset?). Run `datalad get -r .` or `git annex get .` "
        "in the dataset, or remove the links; they are not skipped, since a whole class could vanish silently."
    )


def check_links(root: Path) -> None:
    """Refuse a corpus tree holding dangling links to audio files, listing all of them.

    The registry runs it on the ``root`` of every folder corpus before its loader (see
    ``CorpusEntry.load``), so a loader need not.

    Raises:
        CorpusError: One or more dangling links with an audio-like suffix.
    """
    if not root.is_dir():
        return
    broken = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if is_visible(path) and path.suffix.lower() in AUDIO_LIKE_SUFFIXES and path.is_symlink() and not path.exists():
                broken.append(path)
    if broken:
        raise broken_link_error(broken, root)


def warn_skipped(skipped: Counter[str], where: Path, accepted: Iterable[str]) -> None:
    """One warning counting the files a loader passed over, by suffix (none if ``skipped`` is empty)."""
    if skipped:
        warnings.warn(
            f"{where}: skipped {sum(skipped.values())} file(s) that are not {'/'.join(accepted)} "
            f"({', '.join(f'{k} {n}' for k, n in skipped.most_common())}). Convert audio among them "
            "(e.g. `ffmpeg -i x.mp3 x.wav`) or move them out of the corpus folder to silence this.",
            stacklevel=3,
        )


def warn_count(corpus: str, where: Path, found: int, expected: int, *, complete: bool, what: str) -> None:
    """Warn when every speaker (session) of the release is present but the file count is not the release's:
    a partly unpacked or edited corpus still loads, but published numbers no longer apply to it."""
    if complete and found != expected:
        warnings.warn(
            f"{corpus} at {where}: found {found} {what}, the full corpus has {expected}; loading them anyway. "
            "Results on it are not comparable with published ones: re-unpack the official archive to restore it.",
            stacklevel=3,
        )


def list_files(folder: Path, suffixes: Iterable[str] = (".wav",), skipped: Counter[str] | None = None) -> list[Path]:
    """Visible files of ``folder`` (not recursive) with one of ``suffixes``, sorted.

    Other visible audio-like files are counted by suffix in ``skipped`` (pass the counter to
    :func:`warn_skipped`).

    Raises:
        CorpusError: A dangling link with an audio suffix (all of them named).
    """
    wanted = tuple(s.lower() for s in suffixes)
    found, broken = [], []
    for p in folder.iterdir():
        if not is_visible(p):
            continue
        if p.suffix.lower() in wanted and p.is_file():
            found.append(p)
        elif p.is_symlink() and not p.exists() and p.suffix.lower() in (*wanted, *AUDIO_LIKE_SUFFIXES):
            broken.append(p)
        elif p.is_file() and skipped is not None and p.suffix.lower() in AUDIO_LIKE_SUFFIXES:
            skipped[p.suffix.lower()] += 1
    if broken:
        raise broken_link_error(sorted(broken), folder)
    return sorted(found)


def missing_file_hint(path: Path) -> str:
    """Why an expected audio file is missing, when it is a dangling link (else ``""``)."""
    if path.is_symlink():
        return " (it is a broken symbolic link: un-fetched git-annex / DataLad content? run `datalad get` on it)"
    return ""


def relative_id(path: Path, root: Path) -> str:
    """The ``utt_id`` of ``path``: relative to ``root``, without suffix, ``/``-separated."""
    return path.relative_to(root).with_suffix("").as_posix()


def chunk(items: Sequence[str], size: int) -> tuple[tuple[str, ...], ...]:
    """``items`` in consecutive groups of ``size`` (the last may be shorter): speaker folds."""
    return tuple(tuple(items[i : i + size]) for i in range(0, len(items), size))


def sort_utterances(utterances: Iterable[Utterance]) -> list[Utterance]:
    """Utterances sorted by ``utt_id``: every loader returns them so."""
    return sorted(utterances, key=lambda u: u.utt_id)
