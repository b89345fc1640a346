"""IEMOCAP, four-class set (Busso et al., 2008): 5 sessions of two speakers each.

Classes: neutral (neu), happy (hap and exc merged), angry (ang), sad (sad); the other labels are
dropped. Standard folds: leave one session out.
"""

from __future__ import annotations

import re
from pathlib import Path

from datamodules.corpora.base import (
    Corpus,
    CorpusError,
    PathLike,
    Utterance,
    list_files,
    missing_file_hint,
    relative_id,
    resolve_root,
    sort_utterances,
    warn_count,
)
from datamodules.corpora.registry import register_corpus

__all__ = ["IEMOCAP_CLASSES", "load_iemocap"]

IEMOCAP_CLASSES: tuple[str, ...] = ("neutral", "happy", "angry", "sad")


_IEMOCAP_FULL_COUNT = 5531
_IEMOCAP_FOLDER = "IEMOCAP_full_release"
_IEMOCAP_SESSIONS = 5
_IEMOCAP_KEEP = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
_IEMOCAP_DROP = frozenset({"fru", "sur", "fea", "dis", "oth", "xxx"})
_IEMOCAP_LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\S+)\s+\[")
_IEMOCAP_UTT = re.compile(r"^Ses(\d{2})([FM])_(\S+)_([FM])\d{3}$")


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
    root = resolve_root(root)
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
        label_files = list_files(eval_dir, (".txt",))
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
                        f"{location}: labelled utterance {name!r} has no audio; expected {wav}{missing_file_hint(wav)}. "
                        "Re-copy sentences/wav from the release."
                    )
                if name in utterances:
                    raise CorpusError(
                        f"{location}: utterance {name!r} is labelled twice (also at "
                        f"{where[name]}). Remove the duplicate label line or file."
                    )
                session, gender = f"Ses{parts.group(1)}", parts.group(4)
                utterances[name] = Utterance(
                    utt_id=relative_id(wav, release),
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
    warn_count("IEMOCAP", release, len(utterances), _IEMOCAP_FULL_COUNT, complete=len(sessions) == _IEMOCAP_SESSIONS,
               what="four-class utterances in all five sessions")
    found = sort_utterances(utterances.values())
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



register_corpus("iemocap", load_iemocap, classes=IEMOCAP_CLASSES)
