"""EMO-DB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005): 10 speakers, 7 classes.

Classes (letter order of the corpus documentation): angry (W), bored (L), disgust (E),
fearful (A), happy (F), sad (T), neutral (N). Standard folds: leave one speaker out.
"""

from __future__ import annotations

import re
from collections import Counter

from datamodules.corpora.base import (
    Corpus,
    CorpusError,
    PathLike,
    Utterance,
    list_files,
    relative_id,
    resolve_root,
    sort_utterances,
    warn_count,
    warn_skipped,
)
from datamodules.corpora.registry import register_corpus

__all__ = ["EMODB_CLASSES", "EMODB_SPEAKER_GENDER", "load_emodb"]

EMODB_CLASSES: tuple[str, ...] = ("angry", "bored", "disgust", "fearful", "happy", "sad", "neutral")
EMODB_SPEAKER_GENDER: dict[str, str] = {
    "03": "M", "08": "F", "09": "F", "10": "M", "11": "M",
    "12": "M", "13": "F", "14": "F", "15": "M", "16": "F",
}  # fmt: skip
"""The ten EMO-DB speakers and their gender, from the corpus documentation."""


_EMODB_FULL_COUNT = 535
_EMODB_NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Za-z])([a-z])$")
_EMODB_CODES = {
    "W": "angry", "L": "bored", "E": "disgust", "A": "fearful",
    "F": "happy", "T": "sad", "N": "neutral",
}  # fmt: skip


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
    root = resolve_root(root)
    if (root / "wav").is_dir():
        audio = root / "wav"
    elif root.is_dir() and list_files(root):
        audio = root
    else:
        raise CorpusError(
            f"EMO-DB not found at {root}: expected {root / 'wav'} holding files like 03a01Fa.wav. "
            "Download the corpus from http://emodb.bilderbar.info/ and point root at the "
            "unpacked folder (the one holding wav/) or at wav/ itself."
        )
    skipped: Counter[str] = Counter()
    files = list_files(audio, skipped=skipped)
    warn_skipped(skipped, audio, (".wav",))
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
                utt_id=relative_id(path, audio),
                path=path,
                label=_EMODB_CODES[code],
                speaker=speaker,
                gender=EMODB_SPEAKER_GENDER[speaker],
            )
        )
    speakers = sorted({u.speaker for u in utterances})
    warn_count("EMO-DB", audio, len(utterances), _EMODB_FULL_COUNT, complete=len(speakers) == len(EMODB_SPEAKER_GENDER),
               what="files for all 10 speakers")
    return Corpus(
        name="emodb",
        root=audio,
        classes=EMODB_CLASSES,
        utterances=sort_utterances(utterances),
        speaker_groups=tuple((s,) for s in speakers),
    )



register_corpus("emodb", load_emodb, classes=EMODB_CLASSES)
