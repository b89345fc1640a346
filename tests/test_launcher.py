"""`ser --help` from the launcher's cache: same text as LightningCLI's, no torch import on a hit."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sermodels.launcher import help_cache_path

SCRIPT = "import sys; sys.argv = ['ser', *sys.argv[1:]]; from sermodels.launcher import main; main(); sys.stderr.write('TORCH=%s' % ('torch' in sys.modules))"


def _ser(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SER_CACHE": str(cache), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=600)


def test_only_plain_help_requests_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SER_CACHE", str(tmp_path))
    assert help_cache_path(["--help"]).name.startswith("ser-")  # type: ignore[union-attr]
    assert help_cache_path(["fit", "-h"]).name.startswith("ser-fit-")  # type: ignore[union-attr]
    for argv in (["fit"], ["fit", "-c", "x.yaml", "--help"], ["fit", "--print_config"], []):
        assert help_cache_path(argv) is None  # config-dependent or real work: never from the cache


@pytest.mark.slow
def test_help_is_cached_and_served_without_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _ser(["--help"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "usage: ser" in first.stdout and "TORCH=True" in first.stderr  # built by LightningCLI
    second = _ser(["--help"], tmp_path)
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert "TORCH=False" in second.stderr  # answered from the cache
    # A change to the code invalidates it (the fingerprint covers the package's sources).
    monkeypatch.setenv("SER_CACHE", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "100")
    cached = help_cache_path(["--help"])
    assert cached is not None and cached.is_file()
    source = Path(__file__).resolve().parents[1] / "sermodels" / "launcher.py"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert help_cache_path(["--help"]) != cached
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # A failing request (bad subcommand) is passed through with its exit status, and not cached.
    bad = _ser(["nonsense", "--help"], tmp_path)
    assert bad.returncode != 0


def test_bundle_predict_arguments() -> None:
    from sermodels.launcher import bundle_predict_args

    assert bundle_predict_args(["predict", "--ckpt_path", "x.ckpt"]) is None  # the Lightning path
    assert bundle_predict_args(["fit", "--bundle", "b"]) is None
    got = bundle_predict_args(["predict", "--bundle", "b", "--data.predict_paths", "[a.wav, d/]", "--output=o", "--timeline", "true"])
    assert got == ["b", "a.wav", "d/", "--output", "o", "--timeline"]
    with pytest.raises(SystemExit, match="takes only"):
        bundle_predict_args(["predict", "--bundle", "b", "--data.predict_paths", "[a.wav]", "--data.segment_length", "2"])
    with pytest.raises(SystemExit, match="give the audio"):
        bundle_predict_args(["predict", "--bundle", "b"])
