"""Feature packs: export a corpus's features, then train/test from the pack with the corpus gone."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.pack import FeaturePack
from sermodels.cli import cli_main
from sermodels.pack_cli import main as pack_main
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


def _args(root: Path, cache: Path) -> list[str]:
    return [
        *config_args("strl_ser"),
        f"--data.root={root}",
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.extract_workers=0",
        "--data.progress=false",
        "--data.batch_size=8",
    ]


def _setup(args: list[str]):  # noqa: ANN202
    dm = cli_main(args, run=False).datamodule
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_pack_reproduces_the_corpus_features(tmp_path: Path, dtype: str) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / f"synthetic-{dtype}.npz"
    pack_main(["--out", str(pack), "--dtype", dtype, "--", *_args(root, cache)])
    direct = _setup(_args(root, cache))
    # The machine that trains from the pack has neither the corpus nor its cache.
    shutil.rmtree(root)
    shutil.rmtree(cache)
    packed = _setup([*_args(tmp_path / "absent", tmp_path / "empty-cache"), f"--data.pack={pack}"])
    assert packed.split.train == direct.split.train and packed.split.val == direct.split.val
    assert packed._corpus_identity() == direct._corpus_identity()  # leak checks follow the original corpus
    for part in ("train", "val"):
        a, b = direct.datasets[part].tensors, packed.datasets[part].tensors
        assert a.keys() == b.keys()
        for key in ("target", "utt_index"):
            assert torch.equal(a[key], b[key])
        for key in ("lld", "hsf"):
            if dtype == "float32":
                assert torch.equal(a[key], b[key])
            else:  # standardised values: float16 per dimension keeps ~1e-3 of each dimension's spread
                assert torch.allclose(a[key], b[key], atol=2e-3, rtol=2e-3)
    meta = FeaturePack(pack).meta
    assert meta["corpus"]["name"] == "synthetic" and len(meta["corpus"]["utterances"]) == 3 * 4 * 2
    if dtype == "float16":
        assert meta["dtypes"]["lld"] == "float16" and max(meta["max_relative_rounding"].values()) < 2e-3


@pytest.mark.slow
def test_fit_and_test_from_a_pack(tmp_path: Path) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--dtype", "float32", "--", *_args(root, cache)])
    shutil.rmtree(root)
    args = [*_args(tmp_path / "absent", tmp_path / "c2"), f"--data.pack={pack}", "--trainer.max_epochs=1",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}", "--trainer.enable_progress_bar=false"]
    fit = cli_main(["fit", *args])
    ckpt = Path(fit.trainer.log_dir) / "checkpoints" / "last.ckpt"
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert 0.0 <= metrics["wa"] <= 1.0 and metrics["num_utterances"] > 0


def test_pack_with_other_settings_is_refused(tmp_path: Path) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--", *_args(root, cache)])
    dm = cli_main([*_args(root, cache), f"--data.pack={pack}", "--data.segment_length=2.0"], run=False).datamodule
    with pytest.raises(ValueError, match=r"segment_length: pack 1.4 vs run 2.0"):
        dm.prepare_data()
    with pytest.raises(ValueError, match="does not exist"):
        FeaturePack(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a pack")
    with pytest.raises(ValueError, match="not a feature pack"):
        FeaturePack(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", meta=np.asarray(json.dumps({"format": "x"})))
    with pytest.raises(ValueError, match="Re-export"):
        FeaturePack(tmp_path / "other.npz")
