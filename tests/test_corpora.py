"""Corpus loaders on fake trees that mirror the real layouts, their checks, and the RAVDESS download."""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from datamodules.corpora import (
    AUDIO_LIKE_SUFFIXES,
    AUDIO_SUFFIXES,
    CORPUS_NAMES,
    EMODB_CLASSES,
    IEMOCAP_CLASSES,
    RAVDESS_CLASSES,
    SAVEE_CLASSES,
    SYNTHETIC_CLASSES,
    UNKNOWN_SPEAKER,
    Corpus,
    CorpusError,
    Utterance,
    corpus_names,
    get_corpus,
    load_corpus,
    load_csv,
    load_emodb,
    load_folder,
    load_iemocap,
    load_ravdess,
    load_savee,
    register_corpus,
)
from datamodules.download import DownloadError

# ---------------------------------------------------------------------------------------------
# Corpus


def _utt(utt_id: str, label: str = "a", speaker: str = "s1") -> Utterance:
    return Utterance(utt_id=utt_id, path=Path(f"/x/{utt_id}.wav"), label=label, speaker=speaker)


def test_corpus_helpers() -> None:
    corpus = Corpus(
        name="toy",
        root=Path("/x"),
        classes=("a", "b", "c"),
        utterances=[_utt("u1", "b", "s2"), _utt("u2", "a", "s1"), _utt("u3", "b", "s1")],
    )
    assert corpus.label_index("c") == 2
    assert corpus.targets() == [1, 0, 1]
    assert corpus.speakers() == ["s1", "s2"]
    assert corpus.class_counts() == {"a": 1, "b": 2, "c": 0}
    assert len(corpus) == 3
    with pytest.raises(CorpusError, match=r"unknown label 'z'.*\('a', 'b', 'c'\)"):
        corpus.label_index("z")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"classes": ()}, "at least one class", id="no-classes"),
        pytest.param({"classes": ("a", "a")}, "unique", id="repeated-class"),
        pytest.param({"classes": ("b",)}, r"labels \['a'\] are not among", id="label-not-in-classes"),
        pytest.param({"utterances": [_utt("u1"), _utt("u1")]}, "utt_ids must be unique", id="dup-utt-id"),
        pytest.param({"speaker_groups": (("s1",), ("s1",))}, "exactly one", id="speaker-twice"),
        pytest.param({"speaker_groups": (("s9",),)}, r"in no group: \['s1'\]", id="speaker-ungrouped"),
    ],
)
def test_corpus_validation(kwargs: dict, match: str) -> None:
    args = {"name": "toy", "root": Path("/x"), "classes": ("a",), "utterances": [_utt("u1")], **kwargs}
    with pytest.raises(CorpusError, match=match):
        Corpus(**args)


# ---------------------------------------------------------------------------------------------
# RAVDESS


def test_ravdess_full_tree(tmp_path: Path, fake) -> None:
    root = fake.ravdess(tmp_path / "RAVDESS")
    with pytest.warns(UserWarning, match="1440"):  # all 24 actors, but 4 files each
        corpus = load_ravdess(root)
    assert corpus.name == "ravdess"
    assert corpus.classes == RAVDESS_CLASSES
    assert corpus.classes[:3] == ("neutral", "calm", "happy")
    assert len(corpus) == 24 * 4
    assert set(corpus.class_counts().values()) == {12}
    ids = corpus.utt_ids()
    assert ids == sorted(ids)
    first = corpus.utterances[0]
    assert first.utt_id == "Actor_01/03-01-02-01-01-01-01"
    assert first.label == "calm"
    assert first.speaker == "Actor_01" and first.gender == "M"
    assert first.path.is_absolute() and first.path.is_file()
    assert {u.gender for u in corpus.utterances if u.speaker == "Actor_24"} == {"F"}
    assert corpus.speaker_groups == tuple(tuple(f"Actor_{a:02d}" for a in range(g, g + 4)) for g in range(1, 25, 4))


def test_ravdess_subset_archive_folder_song_and_hidden_files(tmp_path: Path, fake, recwarn) -> None:
    data = fake.ravdess(tmp_path / "Audio_Speech_Actors_01-24", actors=[1, 2, 3, 5, 6], per_actor=2)
    fake.wav(data / "Actor_02" / "03-02-03-01-01-01-02.wav")  # song: skipped
    fake.wav(data / "Actor_02" / "._03-01-03-01-01-01-02.wav")  # macOS resource fork: ignored
    (data / "Actor_02" / "notes.txt").write_text("not audio")
    corpus = load_ravdess(tmp_path)  # the folder holding the unpacked archive folder
    assert not recwarn.list  # a subset is legitimate
    assert corpus.root == data.resolve()
    assert len(corpus) == 10
    assert corpus.speaker_groups == (("Actor_01", "Actor_02", "Actor_03", "Actor_05"), ("Actor_06",))


@pytest.mark.parametrize(
    ("name", "folder", "match"),
    [
        pytest.param("notes.wav", "Actor_01", "does not follow the RAVDESS pattern", id="bad-name"),
        pytest.param("03-01-09-01-01-01-01.wav", "Actor_01", "unknown emotion code 09", id="unknown-emotion"),
        pytest.param("03-01-03-03-01-01-01.wav", "Actor_01", "unknown intensity code 03", id="unknown-intensity"),
        pytest.param("01-01-03-01-01-01-01.wav", "Actor_01", "modality 01 is not audio-only", id="video-modality"),
        pytest.param("03-01-03-01-01-01-02.wav", "Actor_01", "says actor 02 .* Actor_01", id="actor-mismatch"),
    ],
)
def test_ravdess_bad_files(tmp_path: Path, fake, name: str, folder: str, match: str) -> None:
    root = fake.ravdess(tmp_path, actors=[1, 2], per_actor=1)
    bad = fake.wav(root / folder / name)
    with pytest.raises(CorpusError, match=match) as info:
        load_ravdess(root)
    assert str(bad) in str(info.value) or bad.name in str(info.value)


def test_ravdess_not_found_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"RAVDESS not found at .*download=True.*Actor_01\.\.Actor_24"):
        load_ravdess(tmp_path / "nowhere")


def test_ravdess_zero_files(tmp_path: Path) -> None:
    (tmp_path / "Actor_01").mkdir()
    with pytest.raises(CorpusError, match="zero speech WAV files"):
        load_ravdess(tmp_path)


def _zip_tree(tree: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(tree).as_posix())
    return archive


@pytest.fixture
def ravdess_zip(tmp_path: Path, fake) -> Path:
    tree = fake.ravdess(tmp_path / "tree", actors=[1, 2, 3], per_actor=2)
    return _zip_tree(tree, tmp_path / "Audio_Speech_Actors_01-24.zip")


def test_ravdess_download_from_file_url(tmp_path: Path, ravdess_zip: Path) -> None:
    root = tmp_path / "data" / "RAVDESS"
    corpus = load_ravdess(root, download=True, url=ravdess_zip.as_uri(), progress=False, verify=False)
    assert len(corpus) == 6 and corpus.speakers() == ["Actor_01", "Actor_02", "Actor_03"]
    assert (root / ravdess_zip.name).is_file()  # the archive is kept next to the data
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp files left
    ravdess_zip.unlink()  # second load: the data is there, nothing is fetched
    again = load_ravdess(root, download=True, url=ravdess_zip.as_uri(), progress=False, verify=False)
    assert again.utt_ids() == corpus.utt_ids()


def test_ravdess_download_verifies_md5(tmp_path: Path, ravdess_zip: Path) -> None:
    good = hashlib.md5(ravdess_zip.read_bytes()).hexdigest()
    root = tmp_path / "bad"
    with pytest.raises(DownloadError, match=f"expected MD5 {'0' * 32}, got {good}"):
        load_ravdess(root, download=True, url=ravdess_zip.as_uri(), md5="0" * 32, progress=False)
    assert not list(root.iterdir())  # nothing half-written under the real names
    corpus = load_ravdess(tmp_path / "ok", download=True, url=ravdess_zip.as_uri(), md5=good, progress=False)
    assert len(corpus) == 6


def test_ravdess_local_archive_wrapped_in_a_folder(tmp_path: Path, fake) -> None:
    tree = fake.ravdess(tmp_path / "tree", actors=[4, 7], per_actor=1)
    archive = _zip_tree(tree, tmp_path / "copy.zip", prefix="Audio_Speech_Actors_01-24/")
    corpus = load_ravdess(tmp_path / "root", download=True, archive=archive, verify=False)
    assert corpus.root == (tmp_path / "root" / "Audio_Speech_Actors_01-24").resolve()
    assert corpus.speakers() == ["Actor_04", "Actor_07"]


def _junk_file(folder: Path) -> Path:
    (folder / "junk.zip").write_bytes(b"not a zip")
    return folder / "junk.zip"


def _zip_without_actors(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "other.zip", "w") as zf:
        zf.writestr("README.txt", "some other corpus")
    return folder / "other.zip"


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        pytest.param(lambda p: p / "missing.zip", DownloadError, "Could not download", id="missing-url"),
        pytest.param(_junk_file, DownloadError, "not a valid zip", id="not-a-zip"),
        pytest.param(_zip_without_actors, CorpusError, "holds no Actor_XX folders", id="wrong-archive"),
    ],
)
def test_ravdess_download_failures(tmp_path: Path, make, error: type[Exception], match: str) -> None:
    url = make(tmp_path).as_uri()
    with pytest.raises(error, match=match):
        load_ravdess(tmp_path / "root", download=True, url=url, progress=False, verify=False)


# ---------------------------------------------------------------------------------------------
# EMO-DB


@pytest.mark.parametrize("subfolder", ["", "wav"], ids=["corpus-root", "wav-folder"])
def test_emodb(tmp_path: Path, fake, subfolder: str) -> None:
    fake.emodb(tmp_path)
    corpus = load_emodb(tmp_path / subfolder)
    assert corpus.classes == EMODB_CLASSES == ("angry", "bored", "disgust", "fearful", "happy", "sad", "neutral")
    assert corpus.root == (tmp_path / "wav").resolve()
    assert len(corpus) == 4 * 7
    by_id = {u.utt_id: u for u in corpus.utterances}
    assert by_id["03a01Wa"].label == "angry" and by_id["03a01Wa"].gender == "M"
    assert by_id["08b02Lb"].label == "bored" and by_id["08b02Lb"].gender == "F"
    assert by_id["10a01Na"].label == "neutral"
    assert corpus.speaker_groups == (("03",), ("08",), ("09",), ("10",))


@pytest.mark.parametrize(
    ("name", "match"),
    [
        pytest.param("3a01Wa.wav", "does not follow the EMO-DB pattern", id="bad-name"),
        pytest.param("03a01Xa.wav", "unknown emotion letter 'X'", id="unknown-emotion"),
        pytest.param("99a01Wa.wav", "unknown speaker '99'", id="unknown-speaker"),
    ],
)
def test_emodb_bad_files(tmp_path: Path, fake, name: str, match: str) -> None:
    fake.emodb(tmp_path, speakers=["03"])
    bad = fake.wav(tmp_path / "wav" / name)
    with pytest.raises(CorpusError, match=match) as info:
        load_emodb(tmp_path)
    assert str(bad) in str(info.value)


def test_emodb_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"EMO-DB not found at .*wav/ itself"):
        load_emodb(tmp_path)
    (tmp_path / "wav").mkdir()
    with pytest.raises(CorpusError, match="zero .wav files"):
        load_emodb(tmp_path)


# ---------------------------------------------------------------------------------------------
# IEMOCAP


def test_iemocap(tmp_path: Path, fake) -> None:
    fake.iemocap(tmp_path)
    with pytest.warns(UserWarning, match="5531"):
        corpus = load_iemocap(tmp_path)  # the folder holding IEMOCAP_full_release
    assert corpus.classes == IEMOCAP_CLASSES == ("neutral", "happy", "angry", "sad")
    assert len(corpus) == 5 * 6  # fru and xxx dropped, exc merged into happy
    by_name = {u.utt_id.rsplit("/", 1)[1]: u for u in corpus.utterances}
    assert "Ses01M_script01_1_F000" not in by_name  # fru
    assert by_name["Ses01F_impro01_F001"].label == "happy"  # exc
    assert by_name["Ses01F_impro01_M001"].label == "angry"
    # The speaker is the gender letter of the last name part, not the one after the session.
    male_turn = by_name["Ses01F_impro01_M000"]
    assert (male_turn.speaker, male_turn.session, male_turn.gender) == ("Ses01M", "Ses01", "M")
    assert by_name["Ses03M_script01_1_F001"].speaker == "Ses03F"
    assert male_turn.utt_id == "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000"
    assert corpus.speaker_groups == tuple((f"Ses0{n}F", f"Ses0{n}M") for n in range(1, 6))
    assert corpus.class_counts() == {"neutral": 10, "happy": 10, "angry": 5, "sad": 5}


def test_iemocap_subset_from_release_folder(tmp_path: Path, fake, recwarn) -> None:
    release = fake.iemocap(tmp_path, sessions=[2, 4])
    corpus = load_iemocap(release)
    assert not recwarn.list
    assert corpus.speaker_groups == (("Ses02F", "Ses02M"), ("Ses04F", "Ses04M"))


def _replace_label(release: Path, old: str, new: str) -> Path:
    label_file = release / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text().replace(old, new))
    return label_file


@pytest.mark.parametrize(
    ("break_tree", "match"),
    [
        pytest.param(
            lambda r: (r / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav").unlink(),
            r"Ses01F_impro01\.txt:\d+: labelled utterance 'Ses01F_impro01_M000' has no audio; expected .*M000\.wav",
            id="missing-wav",
        ),
        pytest.param(
            lambda r: _replace_label(r, "\thap\t", "\tzzz\t"),
            r"Ses01F_impro01\.txt:\d+: unknown label code 'zzz'",
            id="unknown-label",
        ),
        pytest.param(
            lambda r: _replace_label(r, "Ses01F_impro01_F000", "Ses02F_impro01_F000"),
            "belongs to Ses02 but is listed under Session1",
            id="wrong-session",
        ),
        pytest.param(
            lambda r: _replace_label(r, "Ses01F_impro01_F000", "Ses01F_impro01_X000"),
            "does not follow the IEMOCAP pattern",
            id="bad-utterance-name",
        ),
        pytest.param(
            lambda r: [p.unlink() for p in (r / "Session2/dialog/EmoEvaluation").glob("*.txt")],
            "holds no .txt label files",
            id="no-label-files",
        ),
    ],
)
def test_iemocap_errors(tmp_path: Path, fake, break_tree, match: str) -> None:
    release = fake.iemocap(tmp_path, sessions=[1, 2])
    break_tree(release)
    with pytest.raises(CorpusError, match=match):
        load_iemocap(release)


def test_iemocap_not_found(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="IEMOCAP not found at .*Session1 ... Session5"):
        load_iemocap(tmp_path)
    (tmp_path / "Session3").mkdir()
    with pytest.raises(CorpusError, match=r"Session3/dialog/EmoEvaluation does not exist"):
        load_iemocap(tmp_path)


# ---------------------------------------------------------------------------------------------
# SAVEE


@pytest.mark.parametrize("subfolder", ["", "AudioData"], ids=["corpus-root", "audiodata-folder"])
def test_savee(tmp_path: Path, fake, subfolder: str) -> None:
    fake.savee(tmp_path)
    (tmp_path / "AudioData" / "Info.txt").write_text("SAVEE")
    with pytest.warns(UserWarning, match="480"):
        corpus = load_savee(tmp_path / subfolder)
    assert corpus.classes == SAVEE_CLASSES
    assert len(corpus) == 4 * 7
    by_id = {u.utt_id: u for u in corpus.utterances}
    assert by_id["DC/a01"].label == "angry"
    assert by_id["JE/sa06"].label == "sad" and by_id["JE/su07"].label == "surprised"
    assert {u.gender for u in corpus.utterances} == {"M"}
    assert corpus.speaker_groups == (("DC",), ("JE",), ("JK",), ("KL",))


@pytest.mark.parametrize(
    ("relative", "match"),
    [
        pytest.param("DC/x01.wav", "unknown emotion code 'x'", id="unknown-code"),
        pytest.param("DC/a1.wav", "does not follow the SAVEE pattern", id="bad-name"),
        pytest.param("AB/a01.wav", "unknown SAVEE speaker folder 'AB'", id="unknown-speaker"),
    ],
)
def test_savee_bad_files(tmp_path: Path, fake, relative: str, match: str) -> None:
    fake.savee(tmp_path, speakers=["DC"])
    fake.wav(tmp_path / "AudioData" / relative)
    with pytest.raises(CorpusError, match=match):
        load_savee(tmp_path)


def test_savee_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"SAVEE not found at .*AudioData"):
        load_savee(tmp_path)
    (tmp_path / "AudioData" / "DC").mkdir(parents=True)
    with pytest.raises(CorpusError, match="zero .wav files"):
        load_savee(tmp_path)


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_tree(tmp_path: Path, fake, header: str = "path,label,speaker,session,gender") -> Path:
    fake.wav(tmp_path / "audio" / "a.wav")
    fake.wav(tmp_path / "audio" / "b.flac")
    fake.wav(tmp_path / "audio" / "c.wav")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text(
        f"{header}\naudio/b.flac,sad,spk2,s1,F\naudio/a.wav,happy,spk1,s1,male\n"
        f"{(tmp_path / 'audio' / 'c.wav').as_posix()},sad,spk1,,\n"
    )
    return csv_path


def test_csv(tmp_path: Path, fake) -> None:
    corpus = load_csv(_csv_tree(tmp_path, fake))
    assert corpus.classes == ("happy", "sad")
    assert corpus.utt_ids() == ["audio/a", "audio/b", "audio/c"]
    a, b, c = corpus.utterances
    assert (a.speaker, a.gender, a.session) == ("spk1", "M", "s1")
    assert (b.label, b.gender) == ("sad", "F")
    assert (c.session, c.gender) == (None, None)
    assert corpus.speaker_groups is None
    ordered = load_csv(tmp_path / "meta.csv", classes=("sad", "happy", "angry"))
    assert ordered.classes == ("sad", "happy", "angry") and ordered.targets() == [1, 0, 0]


def test_csv_root_and_optional_columns(tmp_path: Path, fake) -> None:
    fake.wav(tmp_path / "data" / "x" / "a.wav")
    csv_path = tmp_path / "lists" / "train.csv"
    csv_path.parent.mkdir()
    csv_path.write_text("Path, Label\nx/a.wav, angry\n")
    corpus = load_corpus("csv", csv_path, audio_root=tmp_path / "data")
    assert corpus.utt_ids() == ["x/a"] and corpus.root == (tmp_path / "data").resolve()
    assert corpus.utterances[0].speaker == UNKNOWN_SPEAKER


@pytest.mark.parametrize(
    ("content", "kwargs", "match"),
    [
        pytest.param("", {}, "empty file", id="empty"),
        pytest.param("path,label\n", {}, "zero rows", id="header-only"),
        pytest.param(
            "file,label\na.wav,sad\n", {}, r"meta\.csv:1: missing column\(s\) \['path'\]", id="missing-column"
        ),
        pytest.param(
            "path,label\nnope.wav,sad\n", {}, r"meta\.csv:2: audio file .*nope\.wav does not exist", id="missing-file"
        ),
        pytest.param("path,label\naudio/a.wav,\n", {}, r"meta\.csv:2: empty label", id="empty-label"),
        pytest.param(
            "path,label\naudio/a.wav,sad\n",
            {"classes": ("happy",)},
            r"meta\.csv:2: label 'sad' is not in classes",
            id="label-outside-classes",
        ),
        pytest.param("path,label,gender\naudio/a.wav,sad,x\n", {}, r"meta\.csv:2: gender 'x'", id="bad-gender"),
        pytest.param(
            "path,label\naudio/a.wav,sad\n./audio/a.wav,sad\n",
            {},
            r"meta\.csv:3: .* listed again \(first at line 2\)",
            id="duplicate",
        ),
    ],
)
def test_csv_errors(tmp_path: Path, fake, content: str, kwargs: dict, match: str) -> None:
    fake.wav(tmp_path / "audio" / "a.wav")
    (tmp_path / "meta.csv").write_text(content)
    with pytest.raises(CorpusError, match=match):
        load_csv(tmp_path / "meta.csv", **kwargs)


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"CSV file .*nope\.csv does not exist"):
        load_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------------------------------------
# folder


def _folder_tree(tmp_path: Path, fake) -> Path:
    root = tmp_path / "corpus"
    fake.wav(root / "sad" / "spk1_001.wav")
    fake.wav(root / "sad" / "more" / "spk2_002.flac")
    (root / "happy").mkdir(parents=True)
    (root / "happy" / "spk1_003.ogg").write_bytes(b"OggS")  # loaders never read audio
    (root / "happy" / "readme.txt").write_text("ignored")
    fake.wav(root / "happy" / ".spk9_hidden.wav")
    return root


def test_folder(tmp_path: Path, fake) -> None:
    corpus = load_folder(_folder_tree(tmp_path, fake))
    assert corpus.classes == ("happy", "sad")
    assert corpus.utt_ids() == ["happy/spk1_003", "sad/more/spk2_002", "sad/spk1_001"]
    assert corpus.speakers() == [UNKNOWN_SPEAKER]
    with_speakers = load_corpus("folder", tmp_path / "corpus", speaker_regex=r"^(spk\d+)_")
    assert with_speakers.speakers() == ["spk1", "spk2"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"speaker_regex": r"^spk\d+_"}, "has no group", id="regex-without-group"),
        pytest.param({"speaker_regex": r"^(talker\d+)_"}, r"does not match the file name", id="regex-no-match"),
        pytest.param({"speaker_regex": r"(("}, "not a valid regex", id="regex-invalid"),
    ],
)
def test_folder_regex_errors(tmp_path: Path, fake, kwargs: dict, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        load_folder(_folder_tree(tmp_path, fake), **kwargs)


def test_folder_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="Folder corpus not found"):
        load_folder(tmp_path / "nope")
    with pytest.raises(CorpusError, match="zero class folders"):
        load_folder(tmp_path)
    (tmp_path / "angry").mkdir()
    with pytest.raises(CorpusError, match=r"angry: class folder holds no audio files"):
        load_folder(tmp_path)


# ---------------------------------------------------------------------------------------------
# dispatch


@pytest.mark.parametrize(
    ("name", "build", "loader"),
    [
        pytest.param("ravdess", lambda f, p: f.ravdess(p, actors=[1, 2]), load_ravdess, id="ravdess"),
        pytest.param("emodb", lambda f, p: f.emodb(p), load_emodb, id="emodb"),
        pytest.param("iemocap", lambda f, p: f.iemocap(p, sessions=[1]), load_iemocap, id="iemocap"),
        pytest.param("savee", lambda f, p: f.savee(p, speakers=["KL"]), load_savee, id="savee"),
    ],
)
def test_load_corpus_dispatch(tmp_path: Path, fake, name: str, build, loader) -> None:
    root = build(fake, tmp_path)
    corpus = load_corpus(name, root)
    assert corpus.name == name
    assert corpus == loader(root)
    assert corpus.utt_ids() == sorted(corpus.utt_ids())
    assert all(u.path.is_file() for u in corpus.utterances)


def test_load_corpus_synthetic(tmp_path: Path) -> None:
    corpus = load_corpus(
        "synthetic", tmp_path, num_speakers=3, utterances_per_class=1, min_duration=0.2, max_duration=0.3
    )
    assert corpus.name == "synthetic" and len(corpus) == 3 * 4
    assert corpus.root.parent == tmp_path.resolve()


def test_load_corpus_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"Unknown corpus name 'ravdes'; expected one of \('ravdess', .*'synthetic'\), or 'package.module:name'"):
        load_corpus("ravdes", tmp_path)


# ---------------------------------------------------------------------------------------------
# registry


def test_every_builtin_corpus_is_registered_once_by_its_module() -> None:
    assert CORPUS_NAMES == ("ravdess", "emodb", "iemocap", "savee", "csv", "folder", "synthetic")
    assert corpus_names()[: len(CORPUS_NAMES)] == CORPUS_NAMES
    owner = {name: get_corpus(name).module for name in CORPUS_NAMES}
    assert owner == {
        "ravdess": "datamodules.corpora.ravdess",
        "emodb": "datamodules.corpora.emodb",
        "iemocap": "datamodules.corpora.iemocap",
        "savee": "datamodules.corpora.savee",
        "csv": "datamodules.corpora.generic",
        "folder": "datamodules.corpora.generic",
        "synthetic": "datamodules.corpora.synthetic",
    }
    classes = {name: get_corpus(name).classes for name in CORPUS_NAMES}
    assert classes == {
        "ravdess": RAVDESS_CLASSES, "emodb": EMODB_CLASSES, "iemocap": IEMOCAP_CLASSES, "savee": SAVEE_CLASSES,
        "csv": None, "folder": None, "synthetic": SYNTHETIC_CLASSES,
    }  # fmt: skip
    assert [n for n in CORPUS_NAMES if get_corpus(n).can_download] == ["ravdess"]
    assert {n: get_corpus(n).root for n in CORPUS_NAMES if get_corpus(n).root != "folder"} == {
        "csv": "file", "synthetic": "generated",
    }  # fmt: skip


def test_entry_class_names_without_loading() -> None:
    assert get_corpus("emodb").class_names({"classes": ["x"]}) == EMODB_CLASSES  # emodb takes no classes option
    assert get_corpus("synthetic").class_names({"classes": ["a", "b"]}) == ("a", "b")
    assert get_corpus("synthetic").class_names(None) == SYNTHETIC_CLASSES
    assert get_corpus("csv").class_names({}) is None and get_corpus("csv").class_names({"classes": ["b", "a"]}) == ("b", "a")
    assert get_corpus("synthetic").default_root("/c") == Path("/c/synthetic")
    assert get_corpus("emodb").default_root("/c") is None


def test_registry_refuses_bad_and_clashing_registrations(monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.corpora.registry as registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # leave the real one alone

    def load_toy(root, **options):  # noqa: ANN001, ANN003, ANN202
        raise AssertionError("never called")

    with pytest.raises(CorpusError, match=r"Corpus name 'my corpus': expected a letter followed by"):
        register_corpus("my corpus", load_toy)
    with pytest.raises(CorpusError, match=r"Corpus name 'a:b'"):
        register_corpus("a:b", load_toy)
    with pytest.raises(CorpusError, match="loader must be callable"):
        register_corpus("toy", "load_toy")  # type: ignore[arg-type]
    with pytest.raises(CorpusError, match=r"root must be one of \('folder', 'file', 'generated'\), got 'tree'"):
        register_corpus("toy", load_toy, root="tree")  # type: ignore[arg-type]
    with pytest.raises(CorpusError, match="classes must be a non-empty sequence"):
        register_corpus("toy", load_toy, classes="abc")  # type: ignore[arg-type]
    # a name another module registered: refused, naming both modules
    with pytest.raises(CorpusError, match=r"'emodb' is already registered by datamodules.corpora.emodb; \S*test_corpora must"):
        register_corpus("emodb", load_toy)
    # the same module registering again (a re-import) replaces its entry
    register_corpus("toy", load_toy, classes=("a",))
    assert register_corpus("toy", load_toy, classes=("a", "b")) is get_corpus("toy")
    assert get_corpus("toy").classes == ("a", "b")


def test_entry_load_checks_the_loader_and_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datamodules.corpora.registry as registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    corpus = Corpus(name="toy", root=tmp_path, classes=("b", "a"), utterances=[_utt("u1", "a")])
    register_corpus("toy", lambda root, **options: corpus, classes=("a", "b"))
    with pytest.raises(CorpusError, match=r"registered with classes \['a', 'b'\], but its loader returned \['b', 'a'\]"):
        load_corpus("toy", tmp_path)
    register_corpus("toy", lambda root, **options: [corpus], classes=("b", "a"))
    with pytest.raises(CorpusError, match="returned list; a loader must return a datamodules.corpora.Corpus"):
        load_corpus("toy", tmp_path)
    register_corpus("toy", lambda root, **options: corpus, classes=("b", "a"))
    assert load_corpus("toy", tmp_path) is corpus
    with pytest.raises(CorpusError, match=r"'toy' cannot be downloaded; .*corpora that can: \['ravdess'\]"):
        load_corpus("toy", tmp_path, download=True)


def test_module_colon_name_imports_the_module_that_registers_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datamodules.corpora.registry as registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    package = tmp_path / "mylab_corpora_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(
        "from datamodules.corpora import load_folder, register_corpus\n"
        "register_corpus('toy_folder', load_folder)\n"
    )
    (package / "empty.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = get_corpus("mylab_corpora_test.toy:toy_folder")
    assert entry.name == "toy_folder" and entry.module == "datamodules.corpora.generic"
    assert get_corpus("toy_folder") is entry  # registered now under its short name too
    with pytest.raises(CorpusError, match=r"cannot import module 'mylab_corpora_test.nope' \(No module named .*PYTHONPATH"):
        get_corpus("mylab_corpora_test.nope:toy")
    with pytest.raises(CorpusError, match=r"module 'mylab_corpora_test.empty' was imported but registers no corpus 'toy' \(it registers \[\]\)"):
        get_corpus("mylab_corpora_test.empty:toy")
    with pytest.raises(CorpusError, match=r"expected 'package.module:name'"):
        get_corpus(":toy")


def test_folder_takes_every_readable_suffix_and_counts_the_rest(tmp_path: Path) -> None:
    for i, suffix in enumerate(AUDIO_SUFFIXES):
        (tmp_path / "c" / "angry" / f"f{i}{suffix.upper() if i % 2 else suffix}").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / "angry" / f"f{i}{suffix.upper() if i % 2 else suffix}").write_bytes(b"x")
    (tmp_path / "c" / "angry" / "x.mp3").write_bytes(b"ID3")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) .*\.mp3 1"):
        corpus = load_corpus("folder", tmp_path / "c")
    assert sorted(u.path.suffix.lower() for u in corpus.utterances) == sorted(AUDIO_SUFFIXES)
    assert set(AUDIO_SUFFIXES) < set(AUDIO_LIKE_SUFFIXES)


def test_one_audio_suffix_list_for_the_code_base() -> None:
    import datamodules.datamodule
    import datamodules.suffixes
    import sermodels.bundle

    assert datamodules.datamodule.AUDIO_SUFFIXES is datamodules.suffixes.AUDIO_SUFFIXES
    assert sermodels.bundle.AUDIO_SUFFIXES is datamodules.suffixes.AUDIO_SUFFIXES
    assert load_folder.__defaults__ is not None and AUDIO_SUFFIXES in load_folder.__defaults__


# ---------------------------------------------------------------------------------------------
# imports: no cycle through the corpora package

ROOT = Path(__file__).resolve().parents[1]
CORPORA_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "datamodules" / "corpora").glob("*.py")
)


def _imports(module: str) -> set[str]:
    """Modules of this repository that ``module`` imports anywhere (top level or inside functions)."""
    path = ROOT / Path(*module.split("."))
    source = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in ("datamodules", "sermodels"):
                target = ROOT / Path(*name.split("."))
                if target.is_dir() or target.with_suffix(".py").is_file():
                    found.add(name)
    return found - {module}


def test_corpora_package_has_no_import_cycle() -> None:
    """Everything the corpora package reaches, lazy imports included, imports only downwards."""
    graph: dict[str, set[str]] = {}
    todo = list(CORPORA_MODULES)
    while todo:
        module = todo.pop()
        if module not in graph:
            graph[module] = _imports(module)
            todo.extend(graph[module])
    assert set(graph) <= {*CORPORA_MODULES, "datamodules.download", "datamodules.suffixes"}, graph
    # a corpus module importing the package itself would loop back through __init__
    via_package = sorted(name for name, deps in graph.items() if "datamodules.corpora" in deps)
    assert via_package == [], "import from datamodules.corpora.<module>, not from the package, inside it"

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        for dep in graph[module]:
            visit(dep, (*path, module))

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize("module", [*CORPORA_MODULES, "datamodules.splits"])
def test_each_corpora_module_imports_alone(module: str) -> None:
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                            env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_warn_count_only_for_a_full_speaker_set_with_another_count(tmp_path: Path) -> None:
    import warnings

    from datamodules.corpora.base import warn_count

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_count("EMO-DB", tmp_path, 40, 535, complete=False, what="files")  # a speaker subset: legitimate
        warn_count("EMO-DB", tmp_path, 535, 535, complete=True, what="files")  # the release
    with pytest.warns(UserWarning, match=r"EMO-DB at .*: found 534 files for all 10 speakers, the full corpus has 535.*"
                                          r"re-unpack the official archive"):
        warn_count("EMO-DB", tmp_path, 534, 535, complete=True, what="files for all 10 speakers")


def test_data_layer_never_imports_the_model_layer() -> None:
    """``datamodules`` sits below ``sermodels``: no module of it imports ``sermodels``, lazily or not
    (the one that did, ``ser-pack``'s entry point, now lives in ``sermodels.pack_cli``)."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "datamodules").rglob("*.py")
    )
    upward = {m: sorted(d for d in _imports(m) if d.split(".")[0] == "sermodels") for m in modules}
    assert len(modules) > 20
    assert {m: d for m, d in upward.items() if d} == {}
