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
    """STA-CNN's waveform input FLAC-coded: the synthetic corpus (16-bit WAVs at 16 kHz) comes back bit-exact,
    the training tensors agree with a float32 pack's, and the file is smaller."""
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    raw, flac = tmp_path / "raw.npz", tmp_path / "flac.npz"
    pack_main(["--out", str(raw), "--dtype", "float32", "--", *_wave_args(root, cache)])
    pack_main(["--out", str(flac), "--waveform-codec", "flac", "--", *_wave_args(root, cache)])
    a, b = FeaturePack(raw), FeaturePack(flac)
    assert b.meta["version"] == 2 and b.meta["dtypes"]["wave"] == "flac16" and a.meta["dtypes"]["wave"] == "float32"
    assert a.meta["version"] == 1  # no FLAC inside: older installs still read it
    assert flac.stat().st_size < raw.stat().st_size
    assert b.meta["max_relative_rounding"]["wave"] == 0.0  # 16-bit mono at its own rate: lossless
    for u in a.meta["corpus"]["utterances"]:
        x, y = a.features(u["utt_id"]), b.features(u["utt_id"])
        assert x.keys() == y.keys() and y["wave"].dtype == np.float32
        np.testing.assert_array_equal(x["wave"], y["wave"])
        np.testing.assert_array_equal(x["bounds"], y["bounds"])
    shutil.rmtree(root)
    shutil.rmtree(cache)
    base = _wave_args(tmp_path / "absent", tmp_path / "empty")
    ta = _setup([*base, f"--data.pack={raw}"]).datasets["train"].tensors
    tb = _setup([*base, f"--data.pack={flac}"]).datasets["train"].tensors
    assert torch.equal(ta["target"], tb["target"]) and torch.equal(ta["wave"], tb["wave"])


def test_flac_pack_round_trips_loud_quiet_full_scale_and_empty_utterances(tmp_path: Path) -> None:
    """Through write_pack and FeaturePack: a gain keeps peaks beyond full scale (error within half a step times
    the gain), 16-bit samples including -1.0 come back exactly, an empty utterance stays empty."""
    from datamodules.pack import write_pack

    root, cache = tmp_path / "corpus", tmp_path / "cache"
    src = tmp_path / "src.npz"
    pack_main(["--out", str(src), "--dtype", "float32", "--", *_wave_args(root, cache)])
    p = FeaturePack(src)
    utts = p.meta["corpus"]["utterances"]
    feats = [p.features(u["utt_id"]) for u in utts]
    rng = np.random.default_rng(0)
    shape = feats[0]["wave"].shape
    feats[0]["wave"] = rng.uniform(-1.7, 1.7, shape).astype(np.float32)  # beyond full scale
    feats[1]["wave"] = (rng.integers(-32768, 32768, shape) / 32768).astype(np.float32)
    feats[1]["wave"].flat[0] = -1.0  # 16-bit negative full scale: no gain needed
    feats[2]["wave"] = np.zeros((0, shape[1]), np.float32)
    meta = write_pack(tmp_path / "f.npz", p.corpus(), p.config, feats, p.identity, waveform_codec="flac")
    back = FeaturePack(tmp_path / "f.npz")
    loud = back.features(utts[0]["utt_id"])["wave"]
    assert loud.shape == shape and np.max(np.abs(loud - feats[0]["wave"])) <= 1.7 / 65536 * 1.01
    assert meta["max_relative_rounding"]["wave"] <= 1.7 / 65536 * 1.01
    np.testing.assert_array_equal(back.features(utts[1]["utt_id"])["wave"], feats[1]["wave"])
    assert back.features(utts[2]["utt_id"])["wave"].shape == (0, shape[1])
    for u, f in zip(utts[3:], feats[3:]):
        np.testing.assert_array_equal(back.features(u["utt_id"])["wave"], f["wave"])


def test_version_1_packs_still_read_and_newer_ones_ask_for_an_upgrade(tmp_path: Path) -> None:
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--dtype", "float32", "--", *_args(root, cache)])
    with np.load(pack) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    assert meta["version"] == 1  # LLDs and functionals only: written as version 1
    new = FeaturePack(pack)
    u = new.meta["corpus"]["utterances"][0]["utt_id"]
    meta["version"] = 3
    np.savez_compressed(tmp_path / "v3.npz", meta=np.asarray(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match=r"version 1 or 2\. Upgrade sermodels"):
        FeaturePack(tmp_path / "v3.npz")
    assert all(np.array_equal(new.features(u)[k], v) for k, v in new.features(u).items())


def test_write_pack_refuses_a_bad_codec_or_flac_without_a_waveform(tmp_path: Path) -> None:
    from datamodules.pack import write_pack

    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--dtype", "float32", "--", *_args(root, cache)])
    new = FeaturePack(pack)
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



def test_the_runner_extracts_nothing_for_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ser-experiment's cache fill (before side-by-side trials) reads nothing when the trials read a pack."""
    from sermodels.experiment import prepare_trial

    pack = tmp_path / "p.npz"
    pack_main(["--out", str(pack), "--dtype", "float16", "--", *_args(tmp_path / "corpus", tmp_path / "cache")])
    trial = tmp_path / "trial"
    trial.mkdir()
    (trial / "trial.json").write_text(json.dumps({"args": [*_args(tmp_path / "absent", tmp_path / "c2"), f"--data.pack={pack}"]}))
    capsys.readouterr()
    assert prepare_trial(trial) == {"files": None, "computed": None, "cached": None}
    assert "reads a feature pack: nothing to extract" in capsys.readouterr().out
    assert not (tmp_path / "absent").exists()


def test_speed_copies_from_a_waveform_pack_match_the_audios(tmp_path: Path) -> None:
    """STA-CNN with speed perturbation from a FLAC pack (no audio, no cache): each training utterance gets its
    x0.9 and x1.1 copies, rebuilt from the packed segments and the audio past them that the pack keeps, equal to
    the copies made from the audio files; a pack without that remainder (written before packs kept it) still
    trains, with a warning, its copies ending where the segments did."""
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "flac.npz"
    speed = "--data.speed_perturb=[0.9, 1.1]"
    pack_main(["--out", str(pack), "--waveform-codec", "flac", "--", *_wave_args(root, cache)])
    p = FeaturePack(pack)
    rests = {u["utt_id"]: p.rest(u["utt_id"]) for u in p.meta["corpus"]["utterances"]}
    assert p.meta["rest"] == "wave" and any(len(r) for r in rests.values()) and not all(len(r) for r in rests.values())
    direct = _setup([*_wave_args(root, cache), speed])
    packed = _setup([*_wave_args(tmp_path / "absent", tmp_path / "empty"), f"--data.pack={pack}", speed])
    assert packed.speed_copies == direct.speed_copies == {"0.9": len(direct.split.train), "1.1": len(direct.split.train)}
    a, b = direct.datasets["train"].tensors, packed.datasets["train"].tensors
    for key in ("copy", "utt_index", "target"):
        assert torch.equal(a[key], b[key]), key
    torch.testing.assert_close(a["wave"], b["wave"], atol=1e-4, rtol=0)  # resampling of the same 16-bit samples
    assert packed.split_info["speed_perturb"] == direct.split_info["speed_perturb"]
    # the same pack without the remainders: copies of utterances with one end early
    from datamodules.pack import write_pack

    old = tmp_path / "old.npz"
    write_pack(old, p.corpus(), p.config, [p.features(u) for u in rests], p.identity, waveform_codec="flac")
    assert FeaturePack(old).rest(next(iter(rests))) is None
    with pytest.warns(UserWarning, match="keeps no audio past each utterance's last segment"):
        stale = _setup([*_wave_args(tmp_path / "absent", tmp_path / "empty"), f"--data.pack={old}", speed])
    assert stale.speed_copies == direct.speed_copies
    c = stale.datasets["train"].tensors
    differ = 0  # copies of utterances without a remainder are the same; of some with one, not (their end is missing)
    for k in (1, 2):
        for u in set(a["utt_index"][a["copy"] == k].tolist()):
            wa, wc = (t["wave"][(t["copy"] == k) & (t["utt_index"] == u)] for t in (a, c))
            if len(rests[p.meta["corpus"]["utterances"][u]["utt_id"]]):
                differ += wa.shape != wc.shape or not torch.allclose(wa, wc, atol=1e-4)
            else:
                torch.testing.assert_close(wa, wc, atol=1e-4, rtol=0)
    assert differ > 0


@pytest.mark.parametrize("dtype, atol", [("float32", 0.0), ("float16", 5e-4)])
def test_speed_copies_from_a_raw_codec_pack_match_the_audios_to_its_rounding(tmp_path: Path, dtype: str,
                                                                           atol: float) -> None:
    """A raw-codec pack (segments stored as --dtype arrays, the remainder as FLAC) gives the same copies as the audio
    files: the same utterances, targets and lengths; float32 samples equal (measured: bit-equal), float16 ones to
    its rounding (measured: at most 3.5e-4 on the synthetic test audio)."""
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / f"{dtype}.npz"
    speed = "--data.speed_perturb=[0.9, 1.1]"
    pack_main(["--out", str(pack), "--dtype", dtype, "--", *_wave_args(root, cache)])
    p = FeaturePack(pack)
    rests = [p.rest(u["utt_id"]) for u in p.meta["corpus"]["utterances"]]
    assert p.meta["rest"] == "wave" and p.meta["dtypes"]["wave"] == dtype
    assert any(len(r) for r in rests) and not all(len(r) for r in rests)  # copies with and without a remainder
    direct = _setup([*_wave_args(root, cache), speed])
    packed = _setup([*_wave_args(tmp_path / "absent", tmp_path / "empty"), f"--data.pack={pack}", speed])
    assert packed.speed_copies == direct.speed_copies == {"0.9": len(direct.split.train), "1.1": len(direct.split.train)}
    a, b = direct.datasets["train"].tensors, packed.datasets["train"].tensors
    for key in ("copy", "utt_index", "target"):
        assert torch.equal(a[key], b[key]), key
    assert a["wave"].shape == b["wave"].shape
    for k in (1, 2):  # the copies only (the originals are the packed arrays themselves)
        torch.testing.assert_close(a["wave"][a["copy"] == k], b["wave"][b["copy"] == k], atol=atol, rtol=0)


def test_speed_copies_from_a_pack_of_audio_features_are_refused(tmp_path: Path) -> None:
    """STRL-SER's pack holds LLDs and functionals, from which no copy can be made: refused at once, naming both
    arguments and the inputs."""
    with pytest.raises(ValueError, match=r"data.speed_perturb with data.pack='p.npz'.*inputs \['hsf', 'lld'\] are not waveforms"):
        cli_main([*_args(tmp_path, tmp_path), "--data.pack=p.npz", "--data.speed_perturb=[1.1]"], run=False)
    with pytest.raises(ValueError, match="segment_mode='crop' keeps only a window"):
        cli_main([*_wave_args(tmp_path, tmp_path), "--data.pack=p.npz", "--data.speed_perturb=[1.1]",
                  "--data.segment_mode=crop"], run=False)
    with pytest.raises(ValueError, match="segment_hop=3.0 s is longer than a segment"):
        cli_main([*_wave_args(tmp_path, tmp_path), "--data.pack=p.npz", "--data.speed_perturb=[1.1]",
                  "--data.segment_hop=3.0"], run=False)


@pytest.mark.parametrize("factors, named", [("[1.1]", "x1.1"), ("[0.9, 1.1]", "x0.9, x1.1")])
def test_a_copy_that_cannot_be_rebuilt_from_the_pack_names_the_pack_the_factor_and_the_utterance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, factors: str, named: str
) -> None:
    """A remainder that does not fit its utterance (a pack written from another file than its cache) stops setup
    with an error naming data.pack, the factor, the utterance and the fix."""
    root, cache = tmp_path / "corpus", tmp_path / "cache"
    pack = tmp_path / "flac.npz"
    pack_main(["--out", str(pack), "--waveform-codec", "flac", "--", *_wave_args(root, cache)])
    monkeypatch.setattr(FeaturePack, "rest", lambda self, utt_id: np.zeros(7, np.float32))
    dm = cli_main([*_wave_args(tmp_path / "absent", tmp_path / "empty"), f"--data.pack={pack}",
                   f"--data.speed_perturb={factors}"], run=False).datamodule
    dm.prepare_data()
    with pytest.raises(ValueError, match=rf"data.pack='.*flac.npz', data.speed_perturb {named}: .+: its segments end "
                                         r"at sample \d+ .*write the pack again with `ser-pack`"):
        dm.setup("fit")
