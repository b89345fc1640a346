"""IS10 features: shapes at the paper's framing, slicing, the cache (hits, invalidation, interruption)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datamodules.cache import FeatureCache
from datamodules.extract import extract_all
from datamodules.features import FeatureConfig, compute_features
from datamodules.features.is10 import HSF_DIM, LLD_DIM, FeatureError, extract_hsf, extract_lld, num_frames


def _write(path: Path, seconds: float, sr: int = 16000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * (150 + 30 * np.sin(3 * t)) * t) + 0.02 * rng.standard_normal(t.size)
    sf.write(path, x.astype(np.float32), sr)
    return path


@pytest.mark.parametrize(("seconds", "frames"), [(1.2, 34), (1.4, 40), (1.6, 47), (1.8, 53), (2.0, 59), (2.2, 65)])
def test_frame_counts_match_paper(seconds: float, frames: int) -> None:
    assert FeatureConfig(segment_length=seconds).num_frames == frames
    assert num_frames(round(seconds * 16000), 2048, 512) == frames


def test_opensmile_lld_shape_matches_formula() -> None:
    x = np.random.default_rng(0).standard_normal(22400).astype(np.float32) * 0.1
    assert extract_lld(x).shape == (LLD_DIM, 40)
    assert extract_hsf(x).shape == (HSF_DIM,)


def test_too_short_for_functionals_raises_with_name() -> None:
    with pytest.raises(FeatureError, match="clip.wav"):
        extract_hsf(np.zeros(50, dtype=np.float32), name="clip.wav")


@pytest.mark.parametrize(("seconds", "segments"), [(0.5, 1), (3.1, 2), (3.7, 3)])
def test_compute_features_shapes(tmp_path: Path, seconds: float, segments: int) -> None:
    path = _write(tmp_path / "u.wav", seconds)
    cfg = FeatureConfig(segment_length=1.4, wave=True)
    f = compute_features(path, cfg)
    assert f["lld"].shape == (segments, LLD_DIM, 40)
    assert f["hsf"].shape == (segments, HSF_DIM)
    assert f["wave"].shape == (segments, 22400)
    assert f["bounds"].shape == (segments, 2)
    assert np.isfinite(f["lld"]).all() and np.isfinite(f["hsf"]).all()


def test_two_second_segments_give_59_frames(tmp_path: Path) -> None:
    f = compute_features(_write(tmp_path / "u.wav", 4.1), FeatureConfig(segment_length=2.0, hsf=False))
    assert f["lld"].shape == (2, LLD_DIM, 59)


def test_utterance_scope_hsf(tmp_path: Path) -> None:
    f = compute_features(_write(tmp_path / "u.wav", 3.0), FeatureConfig(hsf_scope="utterance", lld=False))
    assert f["hsf"].shape == (1, HSF_DIM)


def test_first_segment_slice_matches_standalone_run(tmp_path: Path) -> None:
    """Frames sliced from the whole-utterance run equal a run on the segment alone, away from its end."""
    path = _write(tmp_path / "u.wav", 3.0)
    cfg = FeatureConfig(hsf=False)
    whole = compute_features(path, cfg)["lld"][0]
    x, _ = sf.read(path, dtype="float32")
    alone = extract_lld(x[:22400])
    # The smoothing / delta / pitch-smoothing context differs only in the last few frames.
    np.testing.assert_allclose(whole[:38, :30], alone[:38, :30], rtol=1e-4, atol=1e-4)


def test_cache_key_covers_settings() -> None:
    base = FeatureConfig()
    assert base.key() == FeatureConfig().key()
    for changed in [
        FeatureConfig(segment_length=2.0),
        FeatureConfig(frame_size=0.06),
        FeatureConfig(frame_shift=0.01),
        FeatureConfig(hsf_scope="utterance"),
        FeatureConfig(segment_hop=0.7),
        FeatureConfig(min_last_segment=0.0),
        FeatureConfig(wave=True),
    ]:
        assert changed.key() != base.key()


def test_cache_hit_and_invalidation(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.wav", 2.0)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    feats, stats = extract_all([path], cache, num_workers=0, progress=False)
    assert (stats["computed"], stats["cached"]) == (1, 0)
    again, stats = extract_all([path], cache, num_workers=0, progress=False)
    assert (stats["computed"], stats["cached"]) == (0, 1)
    np.testing.assert_array_equal(feats[0]["lld"], again[0]["lld"])
    _write(path, 3.0, seed=1)  # the file changes: size/mtime change, entry is recomputed
    changed, stats = extract_all([path], cache, num_workers=0, progress=False)
    assert stats["computed"] == 1 and changed[0]["lld"].shape[0] == 2


def test_interrupted_write_leaves_no_entry_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [_write(tmp_path / f"u{i}.wav", 1.5, seed=i) for i in range(3)]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    real_savez = np.savez
    calls = {"n": 0}

    def dying_savez(fh, **arrays):  # noqa: ANN001, ANN003
        calls["n"] += 1
        if calls["n"] == 2:
            fh.write(b"half an entry")
            raise KeyboardInterrupt
        return real_savez(fh, **arrays)

    monkeypatch.setattr(np, "savez", dying_savez)
    with pytest.raises(KeyboardInterrupt):
        extract_all(paths, cache, num_workers=0, progress=False)
    monkeypatch.setattr(np, "savez", real_savez)
    entries = list(cache.dir.glob("*/*.npz"))
    assert len(entries) == 1  # the finished file only; no partial entry under a real name
    assert not list(cache.dir.glob("*/.tmp-*"))
    _, stats = extract_all(paths, FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False)), num_workers=0, progress=False)
    assert (stats["computed"], stats["cached"]) == (2, 1)


def test_corrupt_entry_is_recomputed(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.wav", 1.5)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    extract_all([path], cache, num_workers=0, progress=False)
    cache.path_for(path).write_bytes(b"garbage")
    feats, _ = extract_all([path], cache, num_workers=0, progress=False)
    assert feats[0]["lld"].shape == (1, LLD_DIM, 40)


def test_parallel_extraction_matches_serial(tmp_path: Path) -> None:
    paths = [_write(tmp_path / f"u{i}.wav", 1.0 + 0.5 * i, seed=i) for i in range(4)]
    serial, _ = extract_all(paths, FeatureCache(tmp_path / "c1", FeatureConfig()), num_workers=0, progress=False)
    parallel, stats = extract_all(paths, FeatureCache(tmp_path / "c2", FeatureConfig()), num_workers=2, progress=False)
    assert stats["computed"] == 4
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a["lld"], b["lld"])
        np.testing.assert_array_equal(a["hsf"], b["hsf"])


def test_bad_file_stops_parallel_run_naming_it(tmp_path: Path) -> None:
    good = [_write(tmp_path / f"u{i}.wav", 1.5, seed=i) for i in range(2)]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="broken.wav"):
        extract_all([*good, bad], FeatureCache(tmp_path / "c", FeatureConfig()), num_workers=2, progress=False)


@pytest.mark.parametrize("seconds", [0.01, 0.2], ids=["10ms", "200ms"])
def test_very_short_utterance_becomes_one_padded_segment(tmp_path: Path, seconds: float) -> None:
    f = compute_features(_write(tmp_path / "short.wav", seconds), FeatureConfig())
    assert f["lld"].shape == (1, LLD_DIM, 40) and f["hsf"].shape == (1, HSF_DIM)
    assert np.isfinite(f["lld"]).all() and np.isfinite(f["hsf"]).all()


def test_stereo_44k_file_through_features(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    t = np.arange(int(1.5 * 44100)) / 44100
    sf.write(path, np.stack([0.3 * np.sin(2 * np.pi * 200 * t), 0.1 * np.sin(2 * np.pi * 300 * t)], axis=1), 44100)
    f = compute_features(path, FeatureConfig(hsf=False, wave=True))
    assert f["wave"].shape == (1, 22400) and f["lld"].shape == (1, LLD_DIM, 40)


def test_feature_config_rejects_impossible_framing() -> None:
    with pytest.raises(ValueError, match="frame_shift"):
        FeatureConfig(frame_size=0.032, frame_shift=0.128)
    with pytest.raises(ValueError, match="segment_length"):
        FeatureConfig(segment_length=0.1, frame_size=0.128)
    with pytest.raises(ValueError, match="segment_hop"):
        FeatureConfig(segment_hop=0.0)


def test_cache_key_covers_library_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.features.base as features
    import datamodules.features.is10 as is10

    base = FeatureConfig().key()
    monkeypatch.setattr(features.torchaudio, "__version__", "0.0.0")
    assert FeatureConfig().key() != base
    monkeypatch.undo()
    monkeypatch.setattr(is10, "CONFIG_DIGEST", "edited")
    assert FeatureConfig().key() != base


def test_many_missing_lld_frames_are_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.features.is10 as features

    path = _write(tmp_path / "u.wav", 3.0)
    config = FeatureConfig(hsf=False)
    full = compute_features(path, config)
    needed = round(int(full["bounds"][-1][0]) / config.frame_hop_samples) + config.num_frames
    real = features.extract_lld
    monkeypatch.setattr(features, "extract_lld", lambda *a, **k: real(*a, **k)[:, : needed - 1])
    one_short = compute_features(path, FeatureConfig(hsf=False))  # a frame short: the last one is repeated
    np.testing.assert_array_equal(one_short["lld"][-1][:, -1], one_short["lld"][-1][:, -2])
    np.testing.assert_array_equal(one_short["lld"][:, :, :-1], full["lld"][:, :, :-1])
    monkeypatch.setattr(features, "extract_lld", lambda *a, **k: real(*a, **k)[:, : needed - 10])
    with pytest.raises(FeatureError, match="u.wav"):
        compute_features(path, FeatureConfig(hsf=False))


def test_only_old_temporary_cache_files_are_removed(tmp_path: Path) -> None:
    import os
    import time

    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    (cache.dir / "ab").mkdir()
    live, dead = cache.dir / "ab" / ".tmp-live.npz", cache.dir / "ab" / ".tmp-dead.npz"
    live.write_bytes(b"a concurrent job is writing this")
    dead.write_bytes(b"a killed job left this")
    old = time.time() - 2 * 3600
    os.utime(dead, (old, old))
    FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    assert live.exists() and not dead.exists()


def test_unexpected_extraction_error_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.cache as cache_module

    path = _write(tmp_path / "odd.wav", 1.5)

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("resampler exploded")

    monkeypatch.setattr(cache_module, "compute_features", boom)
    with pytest.raises(FeatureError, match=r"odd\.wav.*RuntimeError: resampler exploded"):
        extract_all([path], FeatureCache(tmp_path / "c", FeatureConfig()), num_workers=0, progress=False)


def test_fill_only_extraction_reads_nothing_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [_write(tmp_path / f"u{i}.wav", 1.5, seed=i) for i in range(2)]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    reads = []
    real_load = cache.load
    monkeypatch.setattr(cache, "load", lambda p: reads.append(p) or real_load(p))
    feats, stats = extract_all(paths, cache, num_workers=0, progress=False, load=False)
    assert feats == [] and stats["computed"] == 2 and reads == []  # filled, not read back
    feats, stats = extract_all(paths, cache, num_workers=0, progress=False)
    assert len(feats) == 2 and stats["cached"] == 2 and len(reads) == 2
