"""Recipe "how to add a corpus", done exactly as written, with a toy corpus.

1. Write one module that loads the corpus and registers it (``register_corpus``).
2. Write one data config naming it ``package.module:name`` (the module is imported from
   ``data.corpus`` alone: no framework file is edited).
3. Build a fake tree of tiny WAVs in the test and run ``ser fit`` / ``ser test`` on it.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from sermodels.cli import cli_main

ROOT = Path(__file__).resolve().parents[1]
MODULE = "toy_emotions_recipe"  # a name no other test uses

# Step 1: the corpus module, as a user would write it (here into tmp_path, on PYTHONPATH).
CORPUS_MODULE = '''
"""Toy emotions: root/<speaker>/<speaker>_<label>_<n>.wav, three classes, one fold per speaker."""

from collections import Counter

from datamodules.corpora import Corpus, CorpusError, Utterance, register_corpus
from datamodules.corpora.base import list_files, relative_id, resolve_root, sort_utterances, subdirs, warn_skipped

TOY_CLASSES = ("calm", "excited", "sad")


def load_toy(root):
    root = resolve_root(root)
    if not root.is_dir():
        raise CorpusError(f"Toy corpus not found at {root}: expected <speaker>/<speaker>_<label>_<n>.wav.")
    utterances, skipped = [], Counter()
    for folder in subdirs(root):
        for path in list_files(folder, skipped=skipped):
            speaker, label, _ = path.stem.split("_")
            if label not in TOY_CLASSES:
                raise CorpusError(f"{path}: unknown label {label!r}; expected one of {TOY_CLASSES}.")
            utterances.append(Utterance(relative_id(path, root), path, label, speaker))
    warn_skipped(skipped, root, (".wav",))
    speakers = sorted({u.speaker for u in utterances})
    return Corpus("toy", root, TOY_CLASSES, sort_utterances(utterances), tuple((s,) for s in speakers))


register_corpus("toy", load_toy, classes=TOY_CLASSES)
'''


def _fake_tree(root: Path, speakers: int = 4, per_class: int = 2, seconds: float = 0.6) -> Path:
    """Step 3: tiny WAVs: a steady tone for ``calm``, a loud, high, wobbling one for ``excited``,
    a quiet, low, breathy one for ``sad``."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    for s in range(speakers):
        for k in range(per_class):
            rng = np.random.default_rng([s, k])
            for label, f0, level, wobble, noise in (
                ("calm", 150, 0.2, 0.0, 0.005), ("excited", 300, 0.6, 40.0, 0.01), ("sad", 100, 0.05, 0.0, 0.03),
            ):  # fmt: skip
                freq = f0 * (1 + 0.05 * s) + wobble * np.sin(2 * np.pi * 5 * t)
                wave = level * np.sin(2 * np.pi * np.cumsum(freq) / rate) + rng.normal(0, noise, t.size)
                path = root / f"spk{s}" / f"spk{s}_{label}_{k}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, wave, rate, subtype="PCM_16")
    return root


@pytest.fixture
def toy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The user's module on the import path; the registry and ``sys.modules`` are restored afterwards."""
    import datamodules.corpora.registry as registry

    folder = tmp_path / "mycode"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(CORPUS_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    yield folder
    sys.modules.pop(MODULE, None)


def test_add_a_corpus_with_one_module_one_data_config_and_a_fake_tree(
    toy_module: Path, tmp_path: Path, ser_cache: Path
) -> None:
    tree = _fake_tree(tmp_path / "toy_corpus")
    # Step 2: one data config; `data.corpus: module:name` imports the module, which registers `toy`.
    data_config = tmp_path / "toy.yaml"
    data_config.write_text(yaml.safe_dump({"data": {"corpus": f"{MODULE}:toy", "root": str(tree)}}))
    assert MODULE not in sys.modules  # nothing imported it yet: the config alone will
    args = [
        f"--config={ROOT / 'configs/trainer.yaml'}",
        f"--config={ROOT / 'configs/model/baseline.yaml'}",  # an existing model config (one closed-form fit)
        f"--config={data_config}",
        "--data.protocol=speaker",  # the toy loader's folds: one speaker per fold
        f"--data.cache_dir={ser_cache}",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
        "--trainer.enable_progress_bar=false",
    ]
    fit = cli_main(["fit", *args])
    assert MODULE in sys.modules
    dm = fit.datamodule
    assert dm.corpus.name == "toy" and len(dm.corpus) == 4 * 3 * 2
    assert fit.model.hparams.class_names == ["calm", "excited", "sad"]  # from the registry, linked into the model
    assert dm.split.test_speakers == ("spk0",) and dm.split.val_speakers == ("spk1",)

    ckpt = tmp_path / "runs" / "baseline" / "toy-speaker-fold0" / "checkpoints" / "last.ckpt"
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert metrics["split"]["corpus"] == "toy" and metrics["split"]["protocol"] == "speaker"
    assert metrics["num_utterances"] == 6 and len(metrics["confusion_matrix"]) == 3
    assert metrics["ua"] > 0.5  # chance is 1/3; the toy classes differ in pitch, loudness and noise
