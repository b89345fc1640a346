"""Train/validation/test splits of a corpus's utterances, as data.

Two protocols:

* ``paper`` (:func:`paper_split`): a seeded, label-stratified random split of *utterances*
  (never of segments, so an utterance's segments stay together). With two ratios, e.g. the
  STRL-SER paper's 0.8/0.2, the second part is both the validation and the test set, exactly as
  in that paper (results on it are optimistic and speaker-dependent); with three, e.g. STA-CNN's
  0.6/0.2/0.2, train, validation and test are disjoint. Speakers are shared between the parts:
  label such results "speaker-dependent".
* ``speaker`` (:func:`speaker_split`): speaker-independent folds. Fold ``k`` tests on the
  speakers of group ``k``, validates on those of group ``(k + 1) % K`` and trains on the rest,
  so no speaker is in two parts. The groups are the corpus's standard ones
  (``Corpus.speaker_groups``: IEMOCAP leave-one-session-out, RAVDESS six folds of four actors,
  EMO-DB and SAVEE leave-one-speaker-out) or, for corpora without them, a seeded grouping.

A :class:`Split` holds ``utt_id`` s only and can be written to and read from JSON, so fold files
can be shared, inspected and re-used.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from datamodules.corpora import UNKNOWN_SPEAKER, Corpus

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "Split",
    "SplitError",
    "make_split",
    "paper_split",
    "speaker_folds",
    "speaker_split",
]

Protocol = Literal["paper", "speaker"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
_FORMAT_VERSION = 1
_PARTS = ("train", "val", "test")
_DEFAULT_FOLDS = 5


class SplitError(ValueError):
    """Raised when a split cannot be made or read; the message says which argument and the fix."""


@dataclass(frozen=True)
class Split:
    """Which utterances train, validate and test.

    Attributes:
        protocol: ``"paper"`` or ``"speaker"``.
        train: ``utt_id`` s of the training set, sorted.
        val: ``utt_id`` s of the validation set, sorted.
        test: ``utt_id`` s of the test set, sorted; equal to ``val`` for the ``paper`` protocol
            with two ratios (the STRL-SER paper's setup).
        fold: Fold index for the ``speaker`` protocol, else None.
        test_speakers: Speakers of the test set (``speaker`` protocol), sorted.
        val_speakers: Speakers of the validation set (``speaker`` protocol), sorted.
    """

    protocol: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    fold: int | None = None
    test_speakers: tuple[str, ...] = ()
    val_speakers: tuple[str, ...] = ()

    @property
    def test_is_val(self) -> bool:
        """True when the test set is the validation set (``paper`` protocol, two ratios)."""
        return self.test == self.val

    def check(self, corpus: Corpus) -> None:
        """Check that the split fits ``corpus`` and leaks nothing, whatever made it (a protocol or a file).

        In this order: every id must be an utterance of the corpus; no id may be in two of
        train, val and test (except ``test == val`` of the two-ratio ``paper`` protocol); no
        part may be empty; and with the ``speaker`` protocol no speaker may be in two parts.

        Args:
            corpus: The corpus the split was made for.

        Raises:
            SplitError: The first problem found, naming the part(s) and a few offending ids or
                speakers, and the fix.
        """
        known = set(corpus.utt_ids())
        for part in _PARTS:
            unknown = sorted(set(getattr(self, part)) - known)
            if unknown:
                raise SplitError(
                    f"Split {part} has {len(unknown)} utt_id(s) not in corpus "
                    f"{corpus.name!r}, e.g. {unknown[:3]}: the split was made for another "
                    "corpus or version; make it again."
                )
        for a, b in self._disjoint_pairs():
            shared = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if shared:
                raise SplitError(
                    f"Split {a} and {b} share {len(shared)} utterance(s), e.g. {shared[:3]}; "
                    "every utterance must be in one part only."
                )
        sizes = self.sizes()
        empty = [k for k, n in sizes.items() if n == 0]
        if empty:
            raise SplitError(
                f"Split ({self.protocol} protocol) has an empty {'/'.join(empty)} part: {sizes}. "
                "Use a corpus with more utterances (speakers) or other ratios / num_folds "
                "(data.ratios / data.num_folds)."
            )
        if self.protocol == "speaker":
            self.check_speakers(corpus)

    def check_speakers(self, corpus: Corpus) -> None:
        """Check that no speaker of ``corpus`` is in two parts (what the ``speaker`` protocol promises).

        Raises:
            SplitError: A speaker shared by two parts, naming up to five of them and the parts.
        """
        speaker = {u.utt_id: u.speaker for u in corpus.utterances}
        parts = {k: {speaker[i] for i in getattr(self, k) if i in speaker} for k in _PARTS}
        for a, b in self._disjoint_pairs():
            shared = sorted(parts[a] & parts[b])
            if shared:
                raise SplitError(
                    f"Speaker-independent split shares speaker(s) {shared[:5]} between {a} and {b}; "
                    "the split file or corpus speaker column is wrong."
                )

    def check_unseen(self, trained: Collection[str], made_with: Any = None) -> None:
        """Refuse to score utterances a model was trained on (``trained``: its training ``utt_id`` s).

        Args:
            trained: The training utterances of the model (e.g. a checkpoint's).
            made_with: What the model's split was (shown in the error, e.g. its split info).

        Raises:
            SplitError: val or test holds trained utterances (says how many and names a few).
        """
        scored = set(self.val) | set(self.test)
        leaked = sorted(scored & set(trained))
        if leaked:
            raise SplitError(
                f"The checkpoint was trained on {len(leaked)} of the {len(scored)} utterances this run evaluates "
                f"(e.g. {leaked[:3]}): evaluate with the data.protocol/fold/seed/ratios/split_file that fit used "
                f"(the checkpoint's: {made_with})."
            )

    def sizes(self) -> dict[str, int]:
        """Utterances per part: ``{"train": n, "val": n, "test": n}``."""
        return {k: len(getattr(self, k)) for k in _PARTS}

    def class_counts(self, corpus: Corpus) -> dict[str, dict[str, int]]:
        """Utterances per class (in ``corpus.classes`` order, zeros included) in each part."""
        label = {u.utt_id: u.label for u in corpus.utterances}
        out = {}
        for part in _PARTS:
            counts = Counter(label[i] for i in getattr(self, part))
            out[part] = {c: counts.get(c, 0) for c in corpus.classes}
        return out

    def absent_classes(self, corpus: Corpus) -> dict[str, list[str]]:
        """The classes with no utterance in a part, for each part that lacks some (``test`` is
        left out when it is the validation set)."""
        out = {}
        for part, by_class in self.class_counts(corpus).items():
            if part == "test" and self.test_is_val:
                continue
            absent = [c for c, n in by_class.items() if n == 0]
            if absent:
                out[part] = absent
        return out

    def absent_class_warnings(self, corpus: Corpus) -> list[str]:
        """One message per part that lacks classes, saying what that does to training or scores."""
        messages = []
        for part, absent in self.absent_classes(corpus).items():
            effect = (
                "the model never learns them"
                if part == "train"
                else "their recall is scored 0 and pulls UA and macro scores down"
            )
            messages.append(
                f"Class(es) {absent} have no utterance in the {part} part of this {self.protocol} split: "
                f"{effect}. Use a split with every class in every part (other data.ratios / fold / seed)."
            )
        return messages

    def _disjoint_pairs(self) -> list[tuple[str, str]]:
        """The pairs of parts that must not share utterances or (``speaker``) speakers."""
        return [("train", "val"), ("train", "test")] + ([] if self.test_is_val else [("val", "test")])

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the split as JSON, atomically (temporary file + rename).

        Args:
            path: Destination file; its folder is created.

        Returns:
            ``path`` as a :class:`~pathlib.Path`.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"version": _FORMAT_VERSION, **asdict(self)}
        for key in ("train", "val", "test", "test_speakers", "val_speakers"):
            data[key] = list(data[key])
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Split:
        """Read a split written by :meth:`write`.

        Args:
            path: JSON file.

        Returns:
            The split.

        Raises:
            SplitError: The file is missing, is not JSON, or lacks or mistypes a field.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SplitError(f"Split file {path} does not exist; write it with Split.write.") from None
        except json.JSONDecodeError as exc:
            raise SplitError(f"Split file {path} is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise SplitError(f"Split file {path}: expected a JSON object, got {type(data).__name__}.")
        version = data.pop("version", None)
        if version != _FORMAT_VERSION:
            raise SplitError(f"Split file {path}: expected format version {_FORMAT_VERSION}, got {version!r}.")
        missing = [k for k in ("protocol", "train", "val", "test") if k not in data]
        extra = sorted(set(data) - set(cls.__dataclass_fields__))
        if missing or extra:
            raise SplitError(f"Split file {path}: missing field(s) {missing}, unexpected field(s) {extra}.")
        if data["protocol"] not in PROTOCOLS:
            raise SplitError(f"Split file {path}: protocol {data['protocol']!r} is not one of {PROTOCOLS}.")
        for key in ("train", "val", "test", "test_speakers", "val_speakers"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SplitError(f"Split file {path}: field {key!r} must be a list of strings.")
            data[key] = tuple(value)
        fold = data.get("fold")
        if fold is not None and (isinstance(fold, bool) or not isinstance(fold, int)):
            raise SplitError(f"Split file {path}: fold must be an integer or null, got {fold!r}.")
        return cls(**data)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(r) for r in ratios)
    except (TypeError, ValueError):
        raise SplitError(
            f"Expected ratios to be 2 or 3 numbers, e.g. (0.8, 0.2) or (0.6, 0.2, 0.2), got {ratios!r}."
        ) from None
    if len(values) not in (2, 3):
        raise SplitError(
            f"Expected 2 ratios (train, val; test = val) or 3 (train, val, test), got {len(values)}: {ratios!r}."
        )
    if not all(math.isfinite(r) and r > 0 for r in values):
        raise SplitError(f"Expected every ratio to be > 0, got {values}.")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise SplitError(
            f"Expected the ratios to sum to 1, got {values} (sum {sum(values):g}); e.g. use "
            "(0.8, 0.2) or (0.6, 0.2, 0.2)."
        )
    return values


def _allocate(n: int, ratios: Sequence[float]) -> list[int]:
    """Split ``n`` items by ``ratios`` with the largest-remainder method (ties go to earlier)."""
    exact = [n * r for r in ratios]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _allocate_stratified(sizes: Sequence[int], ratios: Sequence[float], tie_order: Sequence[int]) -> list[list[int]]:
    """Per-class part sizes: each within 1 of ``size * ratio``, part totals as close as possible.

    Rounding every class on its own would bias the totals (e.g. RAVDESS 0.8/0.2 would give a
    285-utterance validation set instead of 288). Instead every class gets the floor of its
    share, and the leftover units go, largest remainder first, to the parts still short of their
    overall largest-remainder total; ``tie_order`` (a seeded permutation of the classes) breaks
    ties between classes, so no class is always the one rounded up.
    """
    counts = [[math.floor(n * r) for r in ratios] for n in sizes]
    need = [t - sum(row[i] for row in counts) for i, t in enumerate(_allocate(sum(sizes), ratios))]
    left = [n - sum(row) for n, row in zip(sizes, counts, strict=True)]
    cells = sorted(
        ((c, i) for c in range(len(sizes)) for i in range(len(ratios))),
        key=lambda ci: (-(sizes[ci[0]] * ratios[ci[1]] - counts[ci[0]][ci[1]]), tie_order[ci[0]], ci[1]),
    )
    bumped: set[tuple[int, int]] = set()
    for c, i in cells:
        if left[c] > 0 and need[i] > 0:
            counts[c][i] += 1
            left[c] -= 1
            need[i] -= 1
            bumped.add((c, i))
    for c, i in cells:  # rarely needed: place what the totals could not take, still within 1
        if left[c] > 0 and (c, i) not in bumped:
            counts[c][i] += 1
            left[c] -= 1
    return counts


def paper_split(corpus: Corpus, ratios: Sequence[float] = (0.8, 0.2), seed: int = 0) -> Split:
    """Seeded, label-stratified random split of utterances (speaker-dependent).

    Each class's utterances are shuffled with a generator seeded by ``seed`` and cut by
    ``ratios``, so every part keeps the class balance: a class of ``n`` utterances puts within
    one of ``n * ratio`` into each part, and the part sizes are the overall ``N * ratio`` rounded
    by largest remainder wherever the per-class rounding allows (RAVDESS 0.8/0.2: 1152/288).
    With two ratios the second part is both validation and test set, as in the STRL-SER paper
    (report it as that paper does; picking the best epoch on it is optimistic). With three
    ratios the parts are disjoint (STA-CNN's 0.6/0.2/0.2).

    Args:
        corpus: The corpus.
        ratios: ``(train, val)`` or ``(train, val, test)`` fractions, each > 0, summing to 1.
        seed: Seed of the shuffle.

    Returns:
        The split (``protocol="paper"``, ``fold=None``).

    Raises:
        SplitError: Bad ``ratios``, or a part would be empty because the corpus is too small.
    """
    values = _check_ratios(ratios)
    by_class: dict[str, list[str]] = defaultdict(list)
    for utt in corpus.utterances:
        by_class[utt.label].append(utt.utt_id)
    rng = np.random.default_rng(seed)
    # Class order is fixed (corpus.classes), so the random stream is used reproducibly.
    members = [sorted(by_class.get(label, [])) for label in corpus.classes]
    tie_order = [int(x) for x in rng.permutation(len(members))]
    sizes = _allocate_stratified([len(ids) for ids in members], values, tie_order)
    parts: list[list[str]] = [[] for _ in values]
    for ids, counts in zip(members, sizes, strict=True):
        shuffled = [ids[i] for i in rng.permutation(len(ids))]
        start = 0
        for part, count in zip(parts, counts, strict=True):
            part.extend(shuffled[start : start + count])
            start += count
    names = ("train", "val", "test")
    for name, part, ratio in zip(names, parts, values, strict=False):
        if not part:
            raise SplitError(
                f"paper split of corpus {corpus.name!r} ({len(corpus)} utterances) with "
                f"ratios={values} leaves the {name} part (ratio {ratio}) empty; use a larger "
                "corpus or a larger ratio for it."
            )
    train, val = tuple(sorted(parts[0])), tuple(sorted(parts[1]))
    test = tuple(sorted(parts[2])) if len(parts) == 3 else val
    return Split(protocol="paper", train=train, val=val, test=test)


def speaker_folds(corpus: Corpus, num_folds: int | None = None, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """Return the speaker groups the ``speaker`` protocol's folds are made of.

    ``corpus.speaker_groups`` is used when the corpus has them and ``num_folds`` is None or
    equals their number (``seed`` is then unused). Otherwise the sorted speakers are shuffled
    with ``seed`` and dealt round-robin into ``num_folds`` groups (default 5, or the number of
    speakers if fewer).

    Args:
        corpus: The corpus.
        num_folds: Number of groups, or None for the corpus's standard folds.
        seed: Seed of the generic grouping.

    Returns:
        The groups, each a sorted tuple of speaker ids.

    Raises:
        SplitError: Unknown speakers, fewer than 3 groups possible, or a bad ``num_folds``.
    """
    speakers = corpus.speakers()
    if UNKNOWN_SPEAKER in speakers:
        raise SplitError(
            f"The speaker protocol needs speaker ids, but corpus {corpus.name!r} has utterances "
            f"with speaker {UNKNOWN_SPEAKER!r}. Give speakers (load_folder(speaker_regex=...), a "
            "speaker column in the CSV) or use protocol='paper'."
        )
    if len(speakers) < 3:
        raise SplitError(
            f"The speaker protocol needs at least 3 speakers (test, validation and training "
            f"speakers), corpus {corpus.name!r} has {len(speakers)}: {speakers}. Use "
            "protocol='paper' instead."
        )
    if num_folds is not None and (isinstance(num_folds, bool) or not isinstance(num_folds, (int, np.integer))):
        raise SplitError(f"Expected num_folds to be an integer or None, got {num_folds!r}.")
    standard = corpus.speaker_groups
    if standard is not None:
        # A corpus whose utterances were filtered after loading may name absent speakers.
        present = set(speakers)
        standard = tuple(g for g in (tuple(s for s in group if s in present) for group in standard) if g)
        ungrouped = sorted(present - {s for g in standard for s in g})
        if ungrouped:
            raise SplitError(
                f"Corpus {corpus.name!r}: speakers {ungrouped} are in no speaker group; fix "
                "corpus.speaker_groups or set it to None for generic folds."
            )
    if standard is not None and (num_folds is None or num_folds == len(standard)):
        if len(standard) < 3:
            raise SplitError(
                f"Corpus {corpus.name!r} has only {len(standard)} standard speaker group(s) "
                f"{standard}; the speaker protocol needs at least 3 (test, validation, "
                f"training). Pass num_folds=K with 3 <= K <= {len(speakers)} to regroup its "
                "speakers."
            )
        return tuple(tuple(sorted(g)) for g in standard)
    k = num_folds if num_folds is not None else min(_DEFAULT_FOLDS, len(speakers))
    if not 3 <= k <= len(speakers):
        raise SplitError(
            f"Expected 3 <= num_folds <= {len(speakers)} (the number of speakers of corpus "
            f"{corpus.name!r}), got num_folds={k}."
        )
    rng = np.random.default_rng(seed)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    return tuple(tuple(sorted(order[i::k])) for i in range(k))


def speaker_split(corpus: Corpus, fold: int, num_folds: int | None = None, seed: int = 0) -> Split:
    """Speaker-independent split: fold ``fold`` of the corpus's speaker groups.

    Test = the utterances of group ``fold``; validation = those of group ``(fold + 1) % K``
    (training speakers in every other fold, never test speakers); train = the rest. Across
    folds ``0 .. K-1`` every utterance is tested exactly once. See :func:`speaker_folds` for the
    groups (the corpus's standard folds by default).

    Args:
        corpus: The corpus.
        fold: Fold index, ``0 <= fold < K``.
        num_folds: Number of folds, or None for the corpus's standard folds (generic corpora:
            5, or the number of speakers if fewer).
        seed: Seed of the generic grouping (unused with standard folds).

    Returns:
        The split (``protocol="speaker"``) with its fold and test/validation speakers.

    Raises:
        SplitError: Unknown speakers, fewer than 3 groups, a bad ``num_folds`` or ``fold`` out of
            range.
    """
    groups = speaker_folds(corpus, num_folds=num_folds, seed=seed)
    k = len(groups)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < k:
        raise SplitError(
            f"Expected fold in 0..{k - 1} (corpus {corpus.name!r} has {k} speaker folds), got fold={fold!r}."
        )
    test_speakers, val_speakers = set(groups[fold]), set(groups[(fold + 1) % k])
    train, val, test = [], [], []
    for utt in corpus.utterances:
        if utt.speaker in test_speakers:
            test.append(utt.utt_id)
        elif utt.speaker in val_speakers:
            val.append(utt.utt_id)
        else:
            train.append(utt.utt_id)
    return Split(
        protocol="speaker",
        train=tuple(sorted(train)),
        val=tuple(sorted(val)),
        test=tuple(sorted(test)),
        fold=int(fold),
        test_speakers=tuple(sorted(test_speakers)),
        val_speakers=tuple(sorted(val_speakers)),
    )


def make_split(
    corpus: Corpus,
    protocol: Protocol,
    *,
    ratios: Sequence[float] = (0.8, 0.2),
    fold: int = 0,
    num_folds: int | None = None,
    seed: int = 0,
) -> Split:
    """Make a split by protocol name.

    Args:
        corpus: The corpus.
        protocol: ``"paper"`` (uses ``ratios`` and ``seed``) or ``"speaker"`` (uses ``fold``,
            ``num_folds`` and ``seed``).
        ratios: See :func:`paper_split`.
        fold: See :func:`speaker_split`.
        num_folds: See :func:`speaker_split`.
        seed: Seed of the shuffle or of the generic speaker grouping.

    Returns:
        The split.

    Raises:
        SplitError: Unknown ``protocol`` or a bad argument of the chosen protocol.
    """
    if protocol == "paper":
        return paper_split(corpus, ratios=ratios, seed=seed)
    if protocol == "speaker":
        return speaker_split(corpus, fold=fold, num_folds=num_folds, seed=seed)
    raise SplitError(f"Unknown protocol {protocol!r}; expected one of {PROTOCOLS}.")
