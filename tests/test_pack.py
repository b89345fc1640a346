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


def _wave_args(root: Path, cache: Path) -> list[str]:
    return [*config_args("sta_cnn"), *_args(root, cache)[len(config_args("strl_ser")):]]


def test_flac_waveform_pack_matches_the_audio(tmp_path: Path) -> None:
    """STA-CNN's waveform input FLAC-coded: within half a 16-bit step of the float32 pack, loud peaks kept by
    the per-utterance gain, and smaller than the raw pack."""
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    raw, flac = tmp_path / "raw.npz", tmp_path / "flac.npz"
    pack_main(["--out", str(raw), "--dtype", "float32", "--", *_wave_args(root, cache)])
    pack_main(["--out", str(flac), "--waveform-codec", "flac", "--", *_wave_args(root, cache)])
    a, b = FeaturePack(raw), FeaturePack(flac)
    assert b.meta["version"] == 2 and b.meta["dtypes"]["wave"] == "flac16" and a.meta["dtypes"]["wave"] == "float32"
    assert flac.stat().st_size < raw.stat().st_size
    assert b.meta["max_relative_rounding"]["wave"] <= 1 / 32768 * 1.01  # 0 here: 16-bit WAVs at 16 kHz are lossless
    for u in a.meta["corpus"]["utterances"]:
        x, y = a.features(u["utt_id"]), b.features(u["utt_id"])
        assert x.keys() == y.keys() and y["wave"].dtype == np.float32 and y["wave"].shape == x["wave"].shape
        assert np.max(np.abs(x["wave"] - y["wave"])) <= 1 / 32768 * 1.01
        np.testing.assert_array_equal(x["bounds"], y["bounds"])
    # the training tensors built from either pack agree to the same tolerance
    shutil.rmtree(root)
    shutil.rmtree(cache)
    base = _wave_args(tmp_path / "absent", tmp_path / "empty")
    ta = _setup([*base, f"--data.pack={raw}"]).datasets["train"].tensors
    tb = _setup([*base, f"--data.pack={flac}"]).datasets["train"].tensors
    assert torch.equal(ta["target"], tb["target"]) and torch.allclose(ta["wave"], tb["wave"], atol=1.01 / 32768, rtol=0)


def test_flac_codec_keeps_peaks_above_full_scale(tmp_path: Path) -> None:
    from datamodules.pack import _flac_encode

    rng = np.random.default_rng(0)
    loud, quiet, empty = rng.uniform(-1.7, 1.7, 4000).astype(np.float32), rng.uniform(-0.1, 0.1, 300).astype(np.float32), np.zeros(0, np.float32)
    data, offsets, gains, error = _flac_encode([loud, quiet, empty], 16000)
    assert data.dtype == np.uint8 and len(offsets) == 4 and offsets[-1] == data.size and offsets[3] == offsets[2]
    assert gains[0] >= np.abs(loud).max() and gains[1] == 1.0 and error <= 1.7 * 1.01 / 32768


def test_version_1_packs_still_read(tmp_path: Path) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--dtype", "float32", "--", *_args(root, cache)])
    with np.load(pack) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["version"] = 1
    np.savez_compressed(tmp_path / "v1.npz", meta=np.asarray(json.dumps(meta)), **arrays)
    old, new = FeaturePack(tmp_path / "v1.npz"), FeaturePack(pack)
    u = new.meta["corpus"]["utterances"][0]["utt_id"]
    assert all(np.array_equal(old.features(u)[k], v) for k, v in new.features(u).items())
    from datamodules.pack import write_pack

    with pytest.raises(ValueError, match="waveform_codec"):
        write_pack(tmp_path / "x.npz", new.corpus(), new.config, [], "x", waveform_codec="mp3")  # type: ignore[arg-type]
    feats = [new.features(u["utt_id"]) for u in new.meta["corpus"]["utterances"]]
    with pytest.raises(ValueError, match=r"no waveform input to code .*leave the codec at 'raw'"):
        write_pack(tmp_path / "x.npz", new.corpus(), new.config, feats, "x", waveform_codec="flac")  # STRL-SER: LLDs, HSFs
    assert not (tmp_path / "x.npz").exists()


def test_ser_pack_refuses_flac_without_a_waveform_before_extracting(tmp_path: Path, capsys) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    with pytest.raises(SystemExit) as exit_info:
        pack_main(["--out", str(tmp_path / "p.npz"), "--waveform-codec", "flac", "--", *_args(root, cache)])
    assert exit_info.value.code == 2
    assert "--waveform-codec flac: these features (lld, hsf) hold no waveform input" in capsys.readouterr().err
    assert not (tmp_path / "p.npz").exists() and not cache.exists()  # refused before any extraction

