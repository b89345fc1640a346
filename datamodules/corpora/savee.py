"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq and Jackson, 2009): 4 male speakers, 7 classes.

Classes (code order): angry (a), disgust (d), fearful (f), happy (h), neutral (n), sad (sa),
surprised (su). Standard folds: leave one speaker out.
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
    subdirs,
    warn_count,
    warn_skipped,
)
from datamodules.corpora.registry import register_corpus

__all__ = ["SAVEE_CLASSES", "load_savee"]

SAVEE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")


_SAVEE_FULL_COUNT = 480
_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE_NAME = re.compile(r"^([a-z]+)(\d{2})$")
_SAVEE_CODES = {
    "a": "angry", "d": "disgust", "f": "fearful", "h": "happy",
    "n": "neutral", "sa": "sad", "su": "surprised",
}  # fmt: skip


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
    root = resolve_root(root)
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
    for speaker_dir in subdirs(audio):
        speaker = speaker_dir.name
        if speaker not in _SAVEE_SPEAKERS:
            raise CorpusError(
                f"{speaker_dir}: unknown SAVEE speaker folder {speaker!r}; expected "
                f"{', '.join(_SAVEE_SPEAKERS)}. Move other folders out of {audio}."
            )
        for path in list_files(speaker_dir, skipped=skipped):
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
                    utt_id=relative_id(path, audio),
                    path=path,
                    label=_SAVEE_CODES[code],
                    speaker=speaker,
                    gender="M",
                )
            )
        if any(u.speaker == speaker for u in utterances):
            speakers.append(speaker)
    warn_skipped(skipped, audio, (".wav",))
    if not utterances:
        raise CorpusError(
            f"SAVEE at {audio}: zero .wav files in the speaker folders "
            f"{', '.join(_SAVEE_SPEAKERS)}. Point root at the folder holding AudioData."
        )
    warn_count("SAVEE", audio, len(utterances), _SAVEE_FULL_COUNT, complete=len(speakers) == len(_SAVEE_SPEAKERS),
               what="files for all four speakers")
    return Corpus(
        name="savee",
        root=audio,
        classes=SAVEE_CLASSES,
        utterances=sort_utterances(utterances),
        speaker_groups=tuple((s,) for s in speakers),
    )



register_corpus("savee", load_savee, classes=SAVEE_CLASSES)
