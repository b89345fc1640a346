"""The ``ser`` console entry point: ``ser --help`` answered without importing torch or Lightning.

Building LightningCLI's help imports torch, Lightning, torchmetrics and every model class (several
seconds on a small CPU), although the text only changes when the code or the installed versions
do. The launcher keeps the rendered help of ``ser --help`` and ``ser <subcommand> --help`` in
``$SER_CACHE/help/``, keyed by a fingerprint of this package's source files (size, mtime), the
installed versions of torch, lightning, jsonargparse and torchmetrics, and the terminal width. The
first call after an install or a code change renders it as before and stores it; later calls print
it in milliseconds.

``ser predict --bundle DIR --data.predict_paths '[a.wav, folder/]' [--output O] [--timeline true]``
predicts with an exported bundle (``ser-export``) through :mod:`sermodels.bundle`: onnxruntime and
the feature code, no Lightning, so a cold call on one file takes a few seconds instead of the
LightningCLI's start-up. ``ser predict --ckpt_path X --data.predict_paths [...]`` (with at most
``--output``, ``--timeline``, ``--overwrite``) does the same from a checkpoint
(:mod:`sermodels.fastpredict`); any other option, or a checkpoint without a stored run config,
takes the LightningCLI. Every other command goes straight to :func:`sermodels.cli.main`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

__all__ = ["main", "help_cache_path"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict", "export")
_VERSIONED = ("torch", "lightning", "jsonargparse", "torchmetrics", "sermodels")


def _cache_root() -> Path:
    # Mirrors datamodules.cache.default_cache_dir, which cannot be imported here (it imports numpy/torch).
    if os.environ.get("SER_CACHE"):
        return Path(os.environ["SER_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "sermodels"


def _fingerprint() -> str:
    digest = hashlib.sha1()
    for package in ("sermodels", "datamodules"):
        spec = find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in sorted(Path(folder).rglob("*.py")):
                st = path.stat()
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for dist in _VERSIONED:
        try:
            digest.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=absent\n".encode())
    digest.update(f"python={sys.version}\ncolumns={shutil.get_terminal_size().columns}\n".encode())
    return digest.hexdigest()[:20]


def help_cache_path(argv: list[str]) -> Path | None:
    """Where the help of ``argv`` is cached, or None when ``argv`` is not a plain help request."""
    if argv in (["--help"], ["-h"]):
        name = "ser"
    elif len(argv) == 2 and argv[0] in _SUBCOMMANDS and argv[1] in ("--help", "-h"):
        name = f"ser-{argv[0]}"
    else:
        return None
    return _cache_root() / "help" / f"{name}-{_fingerprint()}.txt"


def bundle_predict_args(argv: list[str]) -> list[str] | None:
    """``predict --bundle DIR ...`` -> the arguments of ``python -m sermodels.bundle``; else None.

    Raises:
        SystemExit: A bundle request with an option the bundle path does not take (named).
    """
    if not argv or argv[0] != "predict" or not any(a == "--bundle" or a.startswith("--bundle=") for a in argv):
        return None

    import yaml

    values: dict[str, str] = {}
    rest = argv[1:]
    i = 0
    while i < len(rest):
        key, _, value = rest[i].partition("=")
        if not value:
            if i + 1 >= len(rest):
                raise SystemExit(f"ser predict --bundle: {key} needs a value.")
            value, i = rest[i + 1], i + 1
        values[key] = value
        i += 1
    allowed = {"--bundle", "--data.predict_paths", "--output", "--timeline"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise SystemExit(
            f"ser predict --bundle takes only {sorted(allowed)}; got {unknown}. A bundle carries its own feature "
            "settings; to change them, predict from the checkpoint instead (--ckpt_path)."
        )
    paths = yaml.safe_load(values.get("--data.predict_paths", "[]"))
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    if not paths:
        raise SystemExit("ser predict --bundle: give the audio, e.g. --data.predict_paths '[clip.wav, folder/]'.")
    out = [values["--bundle"], *map(str, paths)]
    if "--output" in values:
        out += ["--output", values["--output"]]
    if str(values.get("--timeline", "false")).lower() in ("true", "1", "yes"):
        out.append("--timeline")
    return out


_FAST_PREDICT = {"--ckpt_path", "--data.predict_paths", "--output", "--timeline", "--overwrite"}


def _options(args: list[str]) -> dict[str, str] | None:
    """``--key value`` / ``--key=value`` pairs, or None if anything else is among them."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        key, eq, value = args[i].partition("=")
        if not key.startswith("--"):
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            value, i = args[i + 1], i + 1
        values[key] = value
        i += 1
    return values


def fast_predict(argv: list[str]) -> bool:
    """``predict --ckpt_path X --data.predict_paths [...] [--output O] [--timeline B] [--overwrite B]``
    without Lightning (:class:`sermodels.fastpredict.CheckpointPredictor`). Returns False when the
    call needs the LightningCLI (other options, configs, or a checkpoint without a stored config)."""
    if not argv or argv[0] != "predict":
        return False
    values = _options(argv[1:])
    if values is None or "--ckpt_path" not in values or "--data.predict_paths" not in values or set(values) - _FAST_PREDICT:
        return False
    import yaml

    from sermodels.fastpredict import CheckpointPredictor, FastPathUnavailable
    from sermodels.predict_report import claim_output_dir

    try:
        predictor = CheckpointPredictor(values["--ckpt_path"])
    except FastPathUnavailable:
        return False
    flag = lambda key: str(values.get(key, "false")).lower() in ("true", "1", "yes")  # noqa: E731
    paths = yaml.safe_load(values["--data.predict_paths"])
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    try:
        out = claim_output_dir(values.get("--output"), values["--ckpt_path"], flag("--overwrite"))
    except (FileExistsError, ValueError) as err:
        raise SystemExit(str(err)) from err
    try:
        results = predictor.predict(paths)
    except ValueError as err:  # a path that is neither audio nor a folder with audio
        raise SystemExit(f"data.predict_paths: {err}") from err
    predictor.report(results, out, flag("--timeline"))
    return True


def main() -> None:
    """``ser``: print a cached help text when there is one, predict from a bundle or a checkpoint
    without Lightning where possible, else run the LightningCLI."""
    argv = sys.argv[1:]
    if fast_predict(argv):
        return
    bundle_args = bundle_predict_args(argv)
    if bundle_args is not None:
        from sermodels.bundle import main as bundle_main

        bundle_main(bundle_args)
        return
    cached = help_cache_path(argv)
    if cached is not None and cached.is_file():
        sys.stdout.write(cached.read_text())
        return
    from sermodels.cli import main as cli_main

    if cached is None:
        cli_main()
        return
    buffer = io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(buffer):
        try:
            cli_main()
        except SystemExit as exit_:  # argparse ends a help request with SystemExit(0)
            code = exit_.code
    text = buffer.getvalue()
    sys.stdout.write(text)
    if code in (0, None) and text:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".tmp-{os.getpid()}-{cached.name}")
        tmp.write_text(text)
        tmp.replace(cached)
    if code not in (0, None):
        raise SystemExit(code)


if __name__ == "__main__":  # `python -m sermodels.launcher ...` is `ser ...` (it did nothing before)
    main()
