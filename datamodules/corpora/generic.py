"""Generic corpora: your own data as a CSV table (``csv``) or one folder per class (``folder``).

Neither has standard speaker folds (``speaker_groups=None``: the ``speaker`` protocol draws
seeded ones) nor a fixed class order (the sorted labels / folder names, or ``classes=`` for a CSV).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datamodules.corpora.base import (
    UNKNOWN_SPEAKER,
    Corpus,
    CorpusError,
    PathLike,
    Utterance,
    broken_link_error,
    is_visible,
    missing_file_hint,
    relative_id,
    resolve_root,
    sort_utterances,
    subdirs,
    warn_skipped,
)
from datamodules.corpora.registry import register_corpus
from datamodules.suffixes import AUDIO_LIKE_SUFFIXES, AUDIO_SUFFIXES

__all__ = ["load_csv", "load_csv_corpus", "load_folder"]

_GENDERS = {"f": "F", "female": "F", "m": "M", "male": "M"}


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
    csv_file = resolve_root(csv_path, "csv_path")
    if not csv_file.is_file():
        raise CorpusError(
            f"CSV file {csv_file} does not exist. Pass csv_path= a file with columns "
            "path,label[,speaker,session,gender]."
        )
    base = resolve_root(root) if root is not None else csv_file.parent
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
                    f"{csv_file}:{line}: audio file {path} does not exist{missing_file_hint(path)} (relative paths are "
                    f"resolved against {base}; pass root= to change that)."
                )
            if wanted is not None and cell["label"] not in wanted:
                raise CorpusError(f"{csv_file}:{line}: label {cell['label']!r} is not in classes={wanted}.")
            gender = cell.get("gender", "")
            if gender and gender.lower() not in _GENDERS:
                raise CorpusError(f"{csv_file}:{line}: gender {gender!r}; expected F, M, female, male or empty.")
            try:
                utt_id = relative_id(path, base)
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
        utterances=sort_utterances(utterances),
        speaker_groups=None,
    )


def load_folder(
    root: PathLike,
    speaker_regex: str | re.Pattern[str] | None = None,
    extensions: Sequence[str] = AUDIO_SUFFIXES,
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
    root = resolve_root(root)
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
    class_dirs = subdirs(root)
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
            if not all(is_visible(Path(part)) for part in p.relative_to(class_dir).parts):
                continue
            if p.suffix.lower() in wanted and p.is_file():
                files.append(p)
            elif p.is_symlink() and not p.exists() and p.suffix.lower() in (*wanted, *AUDIO_LIKE_SUFFIXES):
                broken.append(p)
            elif p.is_file() and p.suffix.lower() in AUDIO_LIKE_SUFFIXES:
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
            utterances.append(Utterance(utt_id=relative_id(path, root), path=path, label=class_dir.name, speaker=speaker))
    if broken:
        raise broken_link_error(broken, root)
    warn_skipped(skipped, root, wanted)
    return Corpus(
        name=name,
        root=root,
        classes=tuple(d.name for d in class_dirs),
        utterances=sort_utterances(utterances),
        speaker_groups=None,
    )


def load_csv_corpus(root: PathLike, audio_root: PathLike | None = None, **kwargs: Any) -> Corpus:
    """:func:`load_csv` as the registry calls it: ``root`` is the CSV file, ``audio_root`` the
    folder its relative paths start in (``load_csv``'s ``root``)."""
    return load_csv(root, root=audio_root, **kwargs)


register_corpus("csv", load_csv_corpus, root="file", classes_option=True)
register_corpus("folder", load_folder)
