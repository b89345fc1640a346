"""Audio input: mono, 16 kHz, float in [-1, 1], and clear errors for bad files."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datamodules.audio import AudioError, load_audio


def _tone(seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000], ids=lambda s: f"{s}Hz")
def test_resampled_to_16k(tmp_path: Path, sr: int) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, _tone(0.5, sr), sr)
    wave = load_audio(path)
    assert wave.ndim == 1 and wave.dtype.__str__() == "torch.float32"
    assert abs(wave.numel() - 8000) <= 1
    assert float(wave.abs().max()) <= 1.0


def test_stereo_downmixed(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    x = _tone(0.25, 16000, channels=2)
    x[:, 1] = 0.0
    sf.write(path, x, 16000)
    wave = load_audio(path)
    assert wave.ndim == 1
    np.testing.assert_allclose(wave.numpy(), x[:, 0] / 2, atol=1e-4)


def test_flac_and_int_pcm_scaled(tmp_path: Path) -> None:
    path = tmp_path / "a.flac"
    sf.write(path, _tone(0.2, 16000), 16000, subtype="PCM_24")
    wave = load_audio(path)
    assert 0.45 < float(wave.abs().max()) <= 0.5 + 1e-3


def test_silent_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(1600), 16000)
    assert float(load_audio(path).abs().max()) == 0.0


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), 16000)
    with pytest.raises(AudioError, match="empty.wav.*no audio samples"):
        load_audio(path)


def test_corrupt_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError, match="corrupt.wav.*cannot decode"):
        load_audio(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")
